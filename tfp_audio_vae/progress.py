"""Long work that talks: a line when a step starts (what it does, and about how long it takes
where that is known) and one when it ends (how long it took). A ``say`` of ``None`` is silent:
library functions take ``say=None`` by default, and entry points pass `printer`'s.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

Say = Callable[[str], Any]


def printer(quiet: bool = False) -> Say | None:
    """What an entry point passes as ``say``: printing at once, or ``None`` when ``quiet``."""
    return None if quiet else lambda line: print(line, flush=True)


def duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``: a time as a person reads it."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class Stopwatch:
    """What `step` yields: ``seconds``, the block's wall time once it has ended."""

    def __init__(self) -> None:
        self.seconds = 0.0


@contextlib.contextmanager
def step(say: Say | None, what: str, *, expected_s: float | None = None) -> Iterator[Stopwatch]:
    """Says ``what`` starts (with ``expected_s``, a rough expected duration, when given), runs
    the block, and says how long it took; the yielded `Stopwatch` holds that time (also when
    ``say`` is ``None``)."""
    if say is not None:
        say(f"{what}" + (f" (about {duration(expected_s)})" if expected_s else "") + " ...")
    clock = Stopwatch()
    started = time.perf_counter()
    yield clock
    clock.seconds = time.perf_counter() - started
    if say is not None:
        say(f"  {what}: done in {duration(clock.seconds)}")
