"""What a feature declares to run in the background: a named job and how often it runs.

Features list their jobs (`app/imports/jobs.py`, `app/engine/jobs.py`); `app/worker.py` runs them,
in `serve` and in `worker` alike. A job's `run` gets the stop event, so a long pass (a batch at a
time) ends promptly when the process stops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[threading.Event], object]
