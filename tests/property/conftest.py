"""The Hypothesis profile every property test in this folder runs under.

``derandomize=True`` makes each test draw the same examples on every run (the seed is derived from the
test itself), so CI is deterministic and a red build can be reproduced locally; ``database=None`` keeps a
developer's saved failures from changing what CI runs. ``deadline=None`` because several properties do
file I/O or render megabytes, whose timing varies with the machine, not with the input's correctness;
for the same reason the "too slow" and "data too large" health checks are off.

The profile is registered here and applied per test (``settings(parent=PROFILE, ...)``), not loaded
globally, so that it cannot change the Hypothesis settings of tests outside this folder.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "regate-property",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    print_blob=False,
    # Generating large hostile inputs is slow on a loaded 2-core CI machine; that is not a failure of
    # the property, and a health check must not turn a green build red by chance.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
