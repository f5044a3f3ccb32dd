"""Progress of running imports: records done out of the expected total.

An import is one transaction, so its ``import_runs`` row is invisible to other connections (and
on SQLite nobody else may write) until it commits. Its progress is therefore published outside
the database: a small JSON file per running import in ``<data_dir>/running-imports/``, replaced
atomically every ``CENTINELA_IMPORT_PROGRESS_EVERY`` batches and removed when the import ends.
The imports page lists them (``running_imports``) and polls while any is running; the CLI
draws the same figures as a rich progress bar (``terminal_bar``).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from centinela.config import get_settings

STALE_S = 600  # a file not refreshed for this long belongs to a dead import


def folder() -> Path:
    return Path(get_settings().data_dir or ".") / "running-imports"


class ImportProgress:
    """Publish one import's progress; ``update`` is cheap, the file is written every N calls."""

    def __init__(self, label: str, channel: str, total: int,
                 listener: Callable[[int, int], None] | None = None) -> None:
        self.label, self.channel, self.total = label[:200], channel, max(int(total), 0)
        self.done = 0
        self.listener = listener
        self.every = max(get_settings().import_progress_every, 1)
        self._calls = 0
        self.started = time.time()
        self.path = folder() / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        self.import_id: int | None = None
        self._write()

    def update(self, done: int, force: bool = False) -> None:
        self.done = done
        if self.total < done:
            self.total = done
        if self.listener is not None:
            self.listener(done, self.total)
        self._calls += 1
        if force or self._calls % self.every == 0:
            self._write()

    def _write(self) -> None:
        data = {"label": self.label, "channel": self.channel, "done": self.done,
                "total": self.total, "started": self.started, "import_id": self.import_id,
                "pid": os.getpid(), "updated": time.time()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # progress is a courtesy; the import goes on without it
            pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def running_imports() -> list[dict]:
    """The imports running now (any process sharing the data folder), oldest first."""
    out = []
    now = time.time()
    try:
        files = list(folder().glob("*.json"))
    except OSError:
        return []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if now - float(data.get("updated", 0)) > STALE_S or not _alive(int(data.get("pid", 0))):
            continue
        total = int(data.get("total") or 0)
        done = int(data.get("done") or 0)
        data["percent"] = round(100 * done / total) if total else 0
        data["elapsed_s"] = round(now - float(data.get("started", now)))
        out.append(data)
    return sorted(out, key=lambda d: d.get("started", 0))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def terminal_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr (records done / expected) when ``enabled`` and stderr is a
    terminal; yields the listener to hand to the import (or None)."""
    import sys

    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("importando / importing", total=None)

        def listener(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield listener
