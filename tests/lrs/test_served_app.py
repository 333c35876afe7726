"""`lrs serve` runs each worker's app with the cyclic collector tuned (lrs/app.py): checked
in a process of its own, since the tuning would stay with the test process."""

from __future__ import annotations

import json
import subprocess
import sys

from lrs.app import GC_YOUNG_THRESHOLD

PROBE = """
import gc, json
from lrs.app import create_served_app
before = gc.get_threshold()
create_served_app()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def test_the_served_app_freezes_what_startup_made_and_collects_less_often() -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter and a fixed script
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["after"] == [GC_YOUNG_THRESHOLD, *seen["before"][1:]]
    assert seen["frozen"] > 10_000  # modules, routes, schemas: long-lived, never scanned again
