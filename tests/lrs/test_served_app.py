"""`lrs serve` runs each worker's app, and the installed `lrs` command runs, with the cyclic
collector tuned (lrs/app.py `tune_collector`): checked in processes of their own, since
the tuning would stay with the test process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lrs.app import GC_YOUNG_THRESHOLD

REPORT = """
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""
SERVED = """
import gc, json
from lrs.app import create_served_app
before = gc.get_threshold()
create_served_app()
"""
COMMAND = """
import gc, json, sys
from lrs import cli
before = gc.get_threshold()
sys.argv = ["lrs", "openapi"]
cli.console()
"""


@pytest.mark.parametrize("probe", [SERVED, COMMAND], ids=["serve worker", "lrs command"])
def test_startup_objects_are_frozen_and_the_young_generation_collects_less_often(
    probe: str,
) -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter and a fixed script
        [sys.executable, "-c", probe + REPORT],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["after"] == [GC_YOUNG_THRESHOLD, *seen["before"][1:]]
    assert seen["frozen"] > 10_000  # modules, routes, schemas: long-lived, never scanned again
