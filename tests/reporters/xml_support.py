"""Reading a rendered JUnit document the way its consumers do: the Jenkins XSD, junitparser, xunitparser."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import junitparser
import pytest
import xmlschema
import xunitparser  # type: ignore[import-untyped]  # no stubs; only used by tests

REPO_ROOT = Path(__file__).resolve().parents[2]
# The schema is shared with the other workspaces and must not be copied into the repository.
XSD_PATH = REPO_ROOT / ".." / "shared" / "junit" / "jenkins-xunit-junit-10.xsd"


@cache
def jenkins_schema() -> xmlschema.XMLSchema:
    if not XSD_PATH.is_file():
        pytest.skip(f"Jenkins xUnit XSD not found at {XSD_PATH.resolve()} (shared/junit is not checked out)")
    return xmlschema.XMLSchema(str(XSD_PATH))


@dataclass(frozen=True)
class Counts:
    tests: int
    failures: int
    errors: int
    skipped: int


def counts_by_elements(xml: str) -> Counts:
    root = ET.fromstring(xml.encode("utf-8"))  # noqa: S314 - our own output
    return Counts(
        tests=len(root.findall("testsuite/testcase")),
        failures=len(root.findall("testsuite/testcase/failure")),
        errors=len(root.findall("testsuite/testcase/error")),
        skipped=len(root.findall("testsuite/testcase/skipped")),
    )


def counts_by_junitparser(xml: str) -> Counts:
    document = junitparser.JUnitXml.fromstring(xml.encode("utf-8"))
    cases = [case for suite in document for case in suite]
    return Counts(
        tests=len(cases),
        failures=sum(1 for c in cases for r in c.result if isinstance(r, junitparser.Failure)),
        errors=sum(1 for c in cases for r in c.result if isinstance(r, junitparser.Error)),
        skipped=sum(1 for c in cases for r in c.result if isinstance(r, junitparser.Skipped)),
    )


def counts_by_xunitparser(xml: str) -> Counts:
    # xunitparser hands its argument to ElementTree.parse, so it needs a path or a file object, not text.
    suite, result = xunitparser.parse(io.BytesIO(xml.encode("utf-8")))
    return Counts(
        tests=suite.countTestCases(),
        failures=len(result.failures),
        errors=len(result.errors),
        skipped=len(result.skipped),
    )


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode("utf-8"))  # noqa: S314 - our own output
