"""Terminal progress bars (rich) for long commands; silent when not a terminal or ``--quiet``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


def wanted(quiet: bool, as_json: bool = False) -> bool:
    """Return True when a bar should be drawn: a terminal on stderr, not quiet, not JSON."""
    return not quiet and not as_json and sys.stderr.isatty()


@contextmanager
def bar(enabled: bool, description: str, total: float | None = None) -> Iterator:
    """Yield ``advance(n=1, total=None, description=None)``; a no-op when not ``enabled``."""
    if not enabled:
        yield lambda *a, **k: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(description, total=total)

        def advance(n: float = 1, total: float | None = None, description: str | None = None,
                    completed: float | None = None) -> None:
            prog.update(task, advance=None if completed is not None else n, total=total,
                        description=description, completed=completed)

        yield advance
