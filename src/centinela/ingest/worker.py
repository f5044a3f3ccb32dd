"""Read and validate movements in batches, in this process or in a second one.

``chunks`` turns a file's records into batches ``(rows, lines, rejects, read)``: up to
``batch_size`` validated database rows with their line numbers, the records rejected since the
previous batch (``(line, key, field, reason, raw)``, in file order) and the records read.

``Worker`` runs the same function over a file in a child process, so that on a machine with
two cores one parses and validates while the other inserts; the batches come back through a
pipe, ``marshal``-encoded (rows hold only str, int, float and None). The pipe holds about one
batch, so memory stays flat whatever the file size. The child never touches
the database: the import keeps its one connection and its one transaction. Any failure in the
child (or the child dying) raises in the importing process, which then rolls back.

This module imports neither SQLAlchemy nor the ORM models, so the child starts in ~0.15 s.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import queue
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from pathlib import Path
from typing import IO, Any

from centinela.ingest.fields import MOVEMENTS
from centinela.ingest.readers import FileRefused, Item, read_records
from centinela.ingest.validate import Known, make_movement_checker
from centinela.ingest.values import Invalid, unforeseen
from centinela.privacy import redact

# Movements expected in one file before validation moves to a second process (the child costs
# ~0.2 s to start; below this the file is validated in the importing process).
PARALLEL_MIN_ROWS = 50_000

Row = tuple[Any, ...]
Reject = tuple[int | None, str | None, str | None, str, dict[str, Any] | None]
Chunk = tuple[Any, list[int], list[Reject], int]  # rows: list[Row] or a CopyBatch


class CopyBatch:
    """A batch of validated movements already written as PostgreSQL ``COPY … (NULL '')`` text
    by the validating child (``Worker(copy_text=True)``, for ``writer.MonthLoader``): ``data`` (the
    rows, one line each), ``hashes`` (``hash((establishment_id, event_id))`` of each row, in
    the child's hash seed: comparable with each other only), ``months`` (rows per
    ``YYYY-MM``) and ``runs``: ``(YYYY-MM, end)`` for each run of consecutive rows of one month,
    ``end`` the byte offset in ``data`` where the run ends (so that each run can be copied
    straight into its month's table), or None when the rows change month too often."""

    __slots__ = ("data", "hashes", "months", "n", "runs")

    def __init__(self, data: bytes, hashes: list[int], months: dict[str, int], n: int,
                 runs: list[tuple[str, int]] | None = None) -> None:
        self.data, self.hashes, self.months, self.n = data, hashes, months, n
        self.runs = runs

    def __len__(self) -> int:
        return self.n


READ_AHEAD = 16  # frames (batches) read from the child's pipe ahead of the importing process
PIPE_BYTES = 1 << 20  # the child's pipe, where the system allows it (pipe-max-size)
MAX_RUNS = 4  # runs of one month in a batch beyond which it is copied through the loader


def _as_copy(rows: list[Row]) -> Row:
    """A batch of ``(line, key hash, month)`` rows → the ``("copy", …)`` frame item."""
    if not rows:
        return ("copy", b"", [], {}, 0, [])
    lines, hashes, months = zip(*rows, strict=True)
    counts = dict(Counter(months))
    runs: list[tuple[str, int]] | None
    if len(counts) == 1:  # the usual batch of a file in time order: one month
        data = "".join(lines).encode()
        runs = [(months[0], len(data))]
    else:
        parts, runs, start = [], [], 0
        for month, group in groupby(range(len(months)), key=months.__getitem__):
            end = start + sum(1 for _ in group)
            parts.append("".join(lines[start:end]).encode())
            runs.append((month, (runs[-1][1] if runs else 0) + len(parts[-1])))
            start = end
        data = b"".join(parts)
        if len(runs) > MAX_RUNS:
            runs = None
    return ("copy", data, list(hashes), counts, len(rows), runs)


def chunks(items: Iterable[Item], check: Callable[[Row], Row], batch_size: int,
           fields: tuple[str, ...] = MOVEMENTS.fields) -> Iterator[Chunk]:
    """Validate ``items``; yield ``(rows, lines, rejects, read)`` every ``batch_size`` rows.

    A batch is also cut when ``batch_size`` rejections have piled up (a file of rejects keeps
    memory flat too). Rejections carry the raw record; the caller sanitizes it before storing.
    """
    rows: list[Row] = []
    lines: list[int] = []
    rejects: list[Reject] = []
    read = 0
    add_row, add_line, add_reject = rows.append, lines.append, rejects.append
    for line, vals, err, raw in items:
        read += 1
        if vals is not None:
            try:
                add_row(check(vals))
            except Invalid as exc:
                add_reject((line, vals[0], exc.field, exc.reason,
                            dict(zip(fields, vals, strict=True))))
            except (ValueError, ArithmeticError, TypeError) as exc:
                # A value no parser foresaw rejects its own row, never the whole import.
                add_reject((line, vals[0], None, unforeseen(exc),
                            dict(zip(fields, vals, strict=True))))
            else:
                add_line(line)
                if len(rows) >= batch_size:
                    yield rows, lines, rejects, read
                    rows, lines, rejects, read = [], [], [], 0
                    add_row, add_line, add_reject = rows.append, lines.append, rejects.append
                continue
        else:
            add_reject((line, None, err.field if err else None,
                        err.reason if err else "registro ilegible / unreadable record", raw))
        if len(rejects) >= batch_size:
            yield rows, lines, rejects, read
            rows, lines, rejects, read = [], [], [], 0
            add_row, add_line, add_reject = rows.append, lines.append, rejects.append
    if rows or rejects or read:
        yield rows, lines, rejects, read


def _child(job: Row, out: IO[bytes]) -> None:
    """Child process: header check, then every batch of the file, then ``("end",)``."""

    def send(msg: Row) -> None:
        data = marshal.dumps(msg)
        out.write(len(data).to_bytes(8, "little"))
        out.write(data)
        out.flush()  # the parent is waiting for this batch

    try:
        path, (ests, pros, prods, *more), import_id, key, batch_size, *flags = job
        copy_text = bool(flags and flags[0])
        gtins = more[0] if more else {}
        try:
            items = read_records(Path(path), MOVEMENTS)
            first = next(items, None)  # runs the header check before any row
        except FileRefused as exc:
            send(("refused", exc.field, exc.reason))
            return
        send(("ok",))
        check = make_movement_checker(Known(set(ests), set(pros), set(prods), gtins=gtins), import_id,
                                      pseudonym_key=key, copy_text=copy_text)

        def everything() -> Iterator[Item]:
            if first is not None:
                yield first
            yield from items

        for rows, lines, rejects, read in chunks(everything(), check, batch_size):
            send(("batch", _as_copy(rows) if copy_text else rows, lines, rejects, read))
        send(("end",))
    except BrokenPipeError:  # the parent stopped reading (it failed or was interrupted)
        return
    except BaseException as exc:  # reported to the parent, which rolls the import back
        try:
            send(("error", redact(f"{type(exc).__name__}: {exc}")[:300]))
        except OSError:  # the parent is gone, or sees the pipe close instead
            pass


class WorkerFailed(RuntimeError):
    """The validating child process failed or died; the import rolls back."""


class Worker:
    """Validate one movements file in a child process; iterate to receive its batches.

    The child is ``python -m centinela.ingest.worker``: it imports nothing of the caller's
    program (no ``__main__`` re-import as with ``multiprocessing``), reads its job from stdin
    and writes length-prefixed ``marshal`` frames to its stdout; its stderr is discarded, so
    nothing it could print (a traceback with a value) reaches a log.

    ``Worker(...)`` returns once the child has checked the header: it raises ``FileRefused``
    for a bad header, exactly as the in-process reader would, and ``OSError``/``WorkerFailed``
    if the child could not start (the caller then validates in-process).
    """

    def __init__(self, path: Path, known: Known, import_id: int, pseudonym_key: str,
                 batch_size: int, proc: subprocess.Popen[bytes] | None = None,
                 copy_text: bool = False) -> None:
        self.copy_text = copy_text  # batches come as ``CopyBatch`` (PostgreSQL, MonthLoader)
        # A child started ahead (``spawn``) has imported its modules meanwhile; it waits for
        # its job on stdin. One that died meanwhile is replaced.
        if proc is None or proc.poll() is not None or proc.stdin is None or proc.stdin.closed:
            proc = spawn()
        self._proc = proc
        self._thread: threading.Thread | None = None
        self._frames: queue.Queue[bytes | None] = queue.Queue(READ_AHEAD)
        self._stop = threading.Event()
        try:
            job = (str(path), (sorted(known.establishments), sorted(known.professionals),
                               sorted(known.products), dict(known.gtins)), import_id,
                   pseudonym_key, batch_size, copy_text)
            stdin = _pipe(self._proc.stdin)
            stdin.write(marshal.dumps(job))
            stdin.close()
            first = self._recv()
        except BaseException:
            self.close()
            raise
        if first[0] == "refused":
            self.close()
            raise FileRefused(first[1], first[2])

    def _read_frame(self) -> bytes | None:
        """One frame from the child's pipe; None at the end of the pipe or a frame cut short."""
        out = _pipe(self._proc.stdout)
        head = out.read(8)
        size = int.from_bytes(head, "little") if len(head) == 8 else -1
        data = out.read(size) if size > 0 else b""
        return data if len(data) == size else None

    def _read_ahead(self) -> None:
        """Reading thread: move frames from the pipe to ``_frames`` until the end."""
        item: bytes | None = None
        try:
            while not self._stop.is_set():
                item = self._read_frame()
                while not self._stop.is_set():
                    try:
                        self._frames.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if item is None:
                    return
        except (OSError, ValueError):  # the pipe was closed under the thread (close())
            with contextlib.suppress(queue.Full):
                self._frames.put_nowait(None)

    def _recv(self) -> Row:
        data = self._read_frame() if self._thread is None else self._frames.get()
        if data is None:  # end of the pipe, or a frame cut short: the child is gone
            try:
                code = self._proc.wait(1)
            except subprocess.TimeoutExpired:
                code = None
            raise WorkerFailed("el proceso de validación terminó antes que el archivo / the "
                               f"validation process ended before the file did (exit {code})")
        msg: Row = marshal.loads(data)
        if msg[0] == "error":
            raise WorkerFailed(f"falló la validación / validation process failed: {msg[1]}")
        return msg

    def __iter__(self) -> Iterator[Chunk]:
        # A thread drains the pipe while this process waits on the database (a COPY, an index
        # build): the child never stops for a full pipe. It holds READ_AHEAD frames at most.
        self._thread = threading.Thread(target=self._read_ahead, name="centinela-worker-pipe",
                                        daemon=True)
        self._thread.start()
        try:
            while True:
                msg = self._recv()
                if msg[0] == "end":
                    return
                rows = msg[1]
                if type(rows) is tuple:  # ("copy", data, hashes, months, n)
                    rows = CopyBatch(*rows[1:])
                yield rows, msg[2], msg[3], msg[4]
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child (if still running) and release the pipes; safe to call twice."""
        proc = self._proc
        if proc.poll() is None:
            proc.terminate()
        self._stop.set()
        if self._thread is not None:  # it sees the pipe end (child stopped) or the stop flag
            self._thread.join(10)
            if self._thread.is_alive():  # pragma: no cover - a child that ignores SIGTERM
                proc.kill()
                self._thread.join(10)
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child that ignores SIGTERM
            proc.kill()
            proc.wait()


def _pipe(pipe: IO[bytes] | None) -> IO[bytes]:
    """A child's pipe (``spawn`` always opens stdin and stdout)."""
    if pipe is None:  # pragma: no cover - spawn opens both
        raise WorkerFailed("el proceso de validación no tiene canal / the validation process "
                           "has no pipe")
    return pipe


def spawn() -> subprocess.Popen[bytes]:
    """Start a validating child; it imports its modules, then waits for a job on stdin.

    The import starts it before the registry files (``service.run_import``), so its start
    (~0.2 s quiet, 0.4–0.8 s on a loaded machine) overlaps them. ``OSError`` if it cannot.
    """
    if not sys.executable:
        raise OSError("no Python interpreter to start (sys.executable is empty)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "centinela.ingest.worker"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=1 << 20)
    # A pipe that holds a batch or two (Linux: 64 KiB by default, a batch is ~650 KiB): the
    # child validates on while the importing process waits for a COPY.
    with contextlib.suppress(OSError, AttributeError, ValueError):
        import fcntl

        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[union-attr]
    return proc


def discard(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a child from ``spawn`` that was never given a job (safe on None or a used one)."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()
    proc.wait()


def parallel_possible() -> bool:
    """True when a second process can help: more than one CPU available to us."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # pragma: no cover - not Linux
        return (os.cpu_count() or 1) > 1


def main() -> None:
    """Entry point of the child: job on stdin, frames on the original stdout."""
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
    os.dup2(2, 1)  # anything printed by accident goes to stderr (discarded), not the frames
    job = marshal.loads(sys.stdin.buffer.read())
    _child(job, out)
    with contextlib.suppress(OSError):
        out.close()


if __name__ == "__main__":
    main()
