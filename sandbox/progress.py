"""What a long Dagster CLI run is doing, for a person watching it (`make demo`).

Dagster prints nothing while it plans a run over many partitions (about two minutes for the
sandbox window on 2 cores), then thousands of event lines. RunProgress reads those lines and
prints: a line every PLANNING_TICK_S seconds until the first step starts, then one line per
finished step with the steps done out of the total, the elapsed time and the assets the step
wrote (step names such as `lead_lag` are not asset names), long reads' own progress, and the
total time at the end.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

PLANNING_TICK_S = 15

# "... - <run id> - <pid> - [<step> - ]<EVENT> - <text>": the step is absent on run events.
_EVENT = re.compile(
    r" - [0-9a-f-]{36} - \d+ - (?:(?P<step>\S+) - )?(?P<event>[A-Z][A-Z_]+) - "
    r"(?P<text>.*)$"
)
_MATERIALIZED = re.compile(r"Materialized value (?P<key>.+?)\.$")
_FINISHED = re.compile(r'Finished execution of step "[^"]+" in (?P<took>[\d.]+m?s)')
# Progress of long on-chain reads: "<step> <chain>: <done>/<total> days, <n> requests".
_DAYS_DONE = re.compile(r" - (\S+ \S+: \d+/\d+ days, \d+ requests)$")


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def _step_name(step: str) -> str:
    """A step that materialised nothing, named by what it is: a suite's checks of its table."""
    if step.endswith("__suite"):
        return "checks of " + step.removesuffix("__suite").replace("__", "/", 1)
    return step


class RunProgress:
    """Feed it the run's output lines (`line`); call `start` before and `finish` after."""

    def __init__(self, total_steps: int | Callable[[], int], out: Callable[[str], None] = print):
        self._total = total_steps
        self._out = out
        self._started = time.monotonic()
        self._first_step = threading.Event()
        self._done = 0
        self._assets: dict[str, list[str]] = {}

    @property
    def total(self) -> int:
        if callable(self._total):
            self._total = self._total()
        return self._total

    def elapsed(self) -> str:
        return clock(time.monotonic() - self._started)

    def start(self, what: str) -> None:
        self._out(
            f"  {self.elapsed()} planning {what}: Dagster builds the run's plan first; "
            f"nothing is read until the first step"
        )
        threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        while not self._first_step.wait(PLANNING_TICK_S):
            self._out(f"  {self.elapsed()} still planning")

    def line(self, text: str) -> None:
        if days := _DAYS_DONE.search(text.rstrip()):
            self._out(f"  {self.elapsed()} {'':9} reading {days.group(1)}")
            return
        event = _EVENT.search(text.rstrip())
        if event is None:
            return
        step, kind, message = event["step"], event["event"], event["text"]
        if kind == "STEP_START" and not self._first_step.is_set():
            self._first_step.set()
            self._out(f"  {self.elapsed()} planned: {self.total} steps to run")
        elif kind == "ASSET_MATERIALIZATION" and (key := _MATERIALIZED.search(message)):
            assets = self._assets.setdefault(step, [])
            name = key["key"].replace(" ", "/")
            if name not in assets:
                assets.append(name)
        elif kind == "ASSET_CHECK_EVALUATION" and not message.endswith(" passed."):
            self._out(f"  {self.elapsed()} {'':9} CHECK {message}")
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            self._done += 1
            took = _FINISHED.search(message)
            wrote = ", ".join(self._assets.pop(step, [])) or _step_name(step)
            status = "" if kind == "STEP_SUCCESS" else "FAILED "
            self._out(
                f"  {self.elapsed()} [{self._done:>3}/{self.total}] {status}{wrote}"
                + (f" ({took['took']})" if took else "")
            )
        elif kind in ("RUN_SUCCESS", "RUN_FAILURE"):
            self._first_step.set()
            self._out(f"  {self.elapsed()} {kind}")

    def finish(self) -> None:
        self._first_step.set()
        self._out(f"  {self.elapsed()} the run took {self.elapsed()} (minutes:seconds)")
