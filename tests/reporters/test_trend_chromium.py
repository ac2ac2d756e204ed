"""The trend page as a browser shows it: rendered by headless Chromium from a file:// URL, with every network
feature off. The rendered DOM must hold the charts (with their lines and markers) and the failure table, and
a screenshot must be a real picture. Skipped, with the reason, where no Chromium is installed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from runner import cli
from runner.model import ExitCode

from .trend_factories import nightly_verdicts, report_text

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 60


@pytest.fixture
def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        f"no headless browser on PATH (looked for {', '.join(BROWSERS)}): the trend page is not rendered"
    )


def _chromium(browser: str, profile: Path, *args: str) -> str:
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    # Its own process group, so that a hung browser is ended with all its helper processes.
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"{browser} did not finish within {TIMEOUT_S} s")
    if process.returncode != 0:
        pytest.fail(f"{browser} exited with {process.returncode}: {stderr[-2000:]}")
    return stdout


@pytest.fixture
def page(tmp_path: Path) -> Path:
    reports = []
    for i, (started_at, verdict) in enumerate(nightly_verdicts()):
        path = tmp_path / f"{i}.json"
        path.write_text(report_text(verdict, started_at), encoding="utf-8")
        reports.append(str(path))
    out = tmp_path / "trend.html"
    assert cli.main(["report", "--history", *reports, "--html", str(out)], env={}) == ExitCode.OK
    return out


def test_the_rendered_page_holds_the_charts_and_the_failure_table(
    browser: str, page: Path, tmp_path: Path
) -> None:
    dom = _chromium(browser, tmp_path / "profile", "--dump-dom", page.as_uri())
    charts = re.findall(r'<svg class="chart".*?</svg>', dom, re.DOTALL)
    assert len(charts) == 4  # checkout: success rate, latency, politeness; billing: success rate
    assert all('role="img"' in chart and "<title>" in chart for chart in charts)
    assert all(re.search(r"<(circle|path) class=\"pt ", chart) for chart in charts)
    assert sum(chart.count("<polyline ") for chart in charts) >= 4
    assert '<table class="failures">' in dom and "metric.Latency.p50" in dom
    assert "<title>regate trend: 5 reports," in dom


def _png_size_and_pixels(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    idat, offset = b"", 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return width, height, zlib.decompress(idat)


def test_a_screenshot_is_a_real_picture(browser: str, page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    _chromium(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri())
    data = shot.read_bytes()
    width, height, pixels = _png_size_and_pixels(data)
    assert (width, height) == (1200, 2000)
    assert len(data) > 20_000  # a blank page compresses to a few kilobytes
    assert len(set(pixels)) > 64  # many colours: text, charts and badges, not one flat fill
