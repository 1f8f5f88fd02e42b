"""The time budget of a search (`max_time`): seconds spent, kept across resumes.

A search records the seconds its trial loop has run in `budget.json` in the
project folder, after every trial and when it ends, so a resumed search
honours what is left of `max_time` (a killed search loses at most the
trial it was running). The check is made before each new trial: a running
trial always finishes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from zoo._common import write_text_atomic

BUDGET_JSON = "budget.json"


class BudgetSpent(Exception):
    """Raised by the tuner before a new trial once the budget is spent (caught by the search)."""


class TimeBudget:
    """Seconds a search may spend (`max_time`, None: no limit), and those it spent so far.

    Attributes:
        path: The project's `budget.json`.
        max_time: The budget in seconds, or None.
        before: Seconds spent by earlier runs of the search (read from `path`).
        stopped: Whether this run stopped starting trials because the budget was spent.
    """

    def __init__(self, project_dir, max_time: float | None):
        self.path = Path(project_dir) / BUDGET_JSON
        self.max_time = max_time
        self.before = _read_spent(self.path)
        self.stopped = False
        self._start: float | None = None

    def start(self) -> None:
        self._start = time.monotonic()

    def stop(self) -> None:
        """Stop the clock: the search's trial loop has ended."""
        self.before, self._start = self.seconds_spent(), None

    def seconds_spent(self) -> float:
        """Seconds spent by every run of this search, this one included."""
        now = 0.0 if self._start is None else time.monotonic() - self._start
        return self.before + now

    def check(self) -> None:
        """Raise `BudgetSpent` when no new trial may start."""
        if self.max_time is not None and self.seconds_spent() >= self.max_time:
            self.stopped = True
            raise BudgetSpent

    def save(self) -> None:
        write_text_atomic(self.path, json.dumps({
            "max_time": self.max_time, "seconds_spent": round(self.seconds_spent(), 3),
            "stopped_by_max_time": self.stopped}, indent=2))

    def reason(self, trials: int) -> str | None:
        """Why the search stopped early, in words (None when it was not stopped)."""
        if not self.stopped:
            return None
        return (f"Stopped by max_time={self.max_time:g} s: {self.seconds_spent():.1f} s spent "
                f"(earlier runs included) after {trials} trial(s); no new trial was started.")


def _read_spent(path: Path) -> float:
    try:
        return float(json.loads(path.read_text())["seconds_spent"])
    except FileNotFoundError:
        return 0.0
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is damaged ({exc!r}); delete it to count the search's time "
                         f"from zero.") from None
