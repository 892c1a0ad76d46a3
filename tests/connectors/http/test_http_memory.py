"""Peak memory of capped fetches stays under 2x the cap (measured in a subprocess).

Each case runs ``fetch_memory_probe.py`` in a fresh interpreter with the
default 15 MiB cap, so the process's peak RSS is not shared with other tests.
Run ``python tests/connectors/http/fetch_memory_probe.py bomb`` to see figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("fetch_memory_probe.py")


@pytest.mark.parametrize(
    ("case", "outcome"),
    [("huge", "BodyTooLarge"), ("bomb", "BodyTooLarge"), ("full", "15728640 bytes")],
)
def test_peak_memory_stays_under_twice_the_cap(case: str, outcome: str) -> None:
    run = subprocess.run(
        [sys.executable, str(PROBE), case], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    print(figures)  # shown with -s: the measured figures
    assert figures["outcome"] == outcome
    assert figures["tracemalloc_peak"] < 2 * figures["cap"]
    assert figures["rss_growth"] < 2 * figures["cap"]
