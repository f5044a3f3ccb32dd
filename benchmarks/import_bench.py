"""Import benchmark: Centinela's ``import`` against a bare csv → executemany baseline.

Writes N movements (default 1,000,000) with valid registry files, then in the same process
measures (a) the baseline — Python ``csv`` reader → ``sqlite3.executemany`` into a table with no
constraints — and (b) ``centinela import`` of the same files into a fresh SQLite file, as users
run it (real-time rules included: the file's last week is recent); prints
rows/s, the ratio and the peak RSS growth of each, and the peak RSS of the validating child
process that a large file gets (``centinela.ingest.worker``).
With ``--pg`` (default URL of the local PostgreSQL) it also measures a COPY baseline and
``centinela import`` on PostgreSQL.

    python3 benchmarks/import_bench.py --rows 1000000 [--pg postgresql://postgres@127.0.0.1:5432/test]

The last line prints both ratios (SQLite, PostgreSQL) of one run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from centinela.ingest.fields import SPECS

PAGE = os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Sample this process's resident memory every 20 ms; report the peak growth (and the peak
    resident memory of its child processes: the validating child of a large import)."""

    def __init__(self) -> None:
        self.start = self.peak = self._rss()
        self.child_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE

    @staticmethod
    def _children_rss() -> int:
        try:
            with open(f"/proc/self/task/{os.getpid()}/children") as fh:
                kids = fh.read().split()
        except OSError:
            return 0
        total = 0
        for kid in kids:
            try:
                with open(f"/proc/{kid}/statm") as fh:
                    total += int(fh.read().split()[1]) * PAGE
            except OSError:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())
            self.child_peak = max(self.child_peak, self._children_rss())

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def delta_mb(self) -> float:
        return (self.peak - self.start) / 2**20

    @property
    def child_mb(self) -> float:
        return self.child_peak / 2**20


def write_files(folder: Path, rows: int, seed: int = 7) -> None:
    """Write a valid registry and ``rows`` movements of mixed types (deterministic)."""
    rng = random.Random(seed)
    n_est, n_pro = 3000, 2000
    ests = [f"EST-{i:07d}" for i in range(n_est)]
    kinds = ["distributor"] * 30 + ["hospital"] * 400 + ["pharmacy"] * 1500 + ["drugstore"] * 1070
    with (folder / "establishments.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SPECS["establishments"].base_fields)
        for i, e in enumerate(ests):
            w.writerow([e, f"Establecimiento {i}", kinds[i], "private", "150101",
                        f"20{i:09d}", "true", ""])
    pros = [f"CMP-{i:06d}" for i in range(n_pro)]
    nurses = [f"CEP-{i:05d}" for i in range(500)]
    with (folder / "professionals.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SPECS["professionals"].base_fields)
        for p in pros:
            w.writerow([p, "prescriber", "Médico", "anesthesiology", rng.choice(ests), "",
                        "2025-01-15", ""])
        for p in nurses:
            w.writerow([p, "nurse", "Enfermera", "", rng.choice(ests), "", "", ""])
    products = [f"EE-{i:05d}" for i in range(12)]
    with (folder / "products.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SPECS["products"].base_fields)
        for p in products:
            w.writerow([p, f"Fentanilo {p}", "fentanyl", "ampoule", "0.1", "", "50"])
    types = (["administer"] * 45 + ["waste"] * 15 + ["dispense"] * 20 + ["receipt"] * 8
             + ["transfer_out"] * 7 + ["count"] * 4 + ["loss"])
    with (folder / "movements.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SPECS["movements"].base_fields)
        for i in range(rows):
            t = types[i % len(types)]
            est = ests[rng.randrange(n_est)]
            day = 1 + i * 364 // rows
            when = f"2025-{1 + (day - 1) // 31 % 12:02d}-{1 + (day - 1) % 28:02d}T{8 + i % 12:02d}:" \
                   f"{i % 60:02d}:00-05:00"
            qty = "0.5" if t in ("administer", "waste") else str(1 + i % 10)
            cp = rng.choice(ests) if t in ("receipt", "transfer_out") else ""
            lot = f"L{i % 500:04d}"
            presc = f"RE-{i}" if t == "dispense" else ""
            prescriber = pros[i % n_pro] if t in ("dispense", "administer") else ""
            patient = f"DNI:{40000000 + i % 200000}" if t in ("dispense", "administer") else ""
            witness = nurses[i % 500] if t == "waste" else ""
            w.writerow([f"E{i:09d}", t, when, est, products[i % 12], qty, cp, lot, "2027-01-31",
                        "", presc, prescriber, "", patient, "F" if i % 2 else "M",
                        str(1940 + i % 60) if patient else "", "", "30" if presc else "",
                        witness])


def baseline_sqlite(folder: Path, db: Path) -> tuple[int, float]:
    """Python csv reader → sqlite3.executemany into a table with no constraints."""
    conn = sqlite3.connect(db)
    cols = SPECS["movements"].base_fields
    conn.execute(f"CREATE TABLE m ({', '.join(c + ' TEXT' for c in cols)})")
    marks = ", ".join("?" * len(cols))
    t0 = time.perf_counter()
    n = 0
    with (folder / "movements.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        batch: list[list[str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) >= 5000:
                conn.executemany(f"INSERT INTO m VALUES ({marks})", batch)  # noqa: S608
                n += len(batch)
                batch = []
        if batch:
            conn.executemany(f"INSERT INTO m VALUES ({marks})", batch)  # noqa: S608
            n += len(batch)
    conn.commit()
    dt_s = time.perf_counter() - t0
    conn.close()
    return n, dt_s


def baseline_pg(folder: Path, url: str, schema: str) -> tuple[int, float]:
    """Python csv reader → COPY into an unconstrained PostgreSQL table."""
    import psycopg

    cols = SPECS["movements"].base_fields
    with psycopg.connect(url) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(f"CREATE TABLE base_m ({', '.join(c + ' text' for c in cols)})")
        t0 = time.perf_counter()
        n = 0
        with (folder / "movements.csv").open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            next(reader)
            with conn.cursor().copy(f"COPY base_m ({', '.join(cols)}) FROM STDIN") as copy:
                for row in reader:
                    copy.write_row(row)
                    n += 1
        conn.commit()
        return n, time.perf_counter() - t0


# The file's last day is 2025-12-28: "now" the next day makes its last week recent, so the
# real-time rules judge those events (a year-old backfill imported on its last day's morrow).
BENCH_NOW = dt.datetime(2025, 12, 29, 12, 0)


def centinela_import(folder: Path, url: str, realtime: bool = True,
                     now: dt.datetime = BENCH_NOW) -> tuple[dict, float, dict | None]:
    """Import ``folder`` into ``url`` as ``centinela import`` does (real-time rules included,
    on the events of the last ``realtime_window_days``); return the report, its seconds and
    the real-time rules' result. On partitioned PostgreSQL the file's months are created first
    (``centinela db partitions --from 2025-01``, not timed, like the schema)."""
    from centinela.db import create_schema, make_engine
    from centinela.ingest.service import import_directory, run_realtime
    from centinela.partitions import maintain

    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        maintain(conn, since=dt.date(2025, 1, 1))
    t0 = time.perf_counter()
    # What import_directory(realtime=True) does, with the two steps timed apart.
    report = import_directory(engine, folder, channel="bench", realtime=False, now=now)
    t1 = time.perf_counter()
    rt = run_realtime(engine, report.import_id, now) if realtime else None
    total = time.perf_counter() - t0
    engine.dispose()
    return report.as_dict(), total, {"seconds": round(total - (t1 - t0), 1), "result": rt}


def settle(max_s: float = 30.0) -> None:
    """Let the disk catch up before a measured step: flush what earlier steps wrote (the
    SQLite phase leaves about a gigabyte of dirty pages, which the kernel otherwise writes back
    during the PostgreSQL steps) and wait until little is left to write. Called before each
    measured step, baselines included, so that each starts from the same quiet state."""
    os.sync()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_s:
        pending = 0
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith(("Dirty:", "Writeback:")):
                    pending += int(line.split()[1])
        except OSError:
            return
        if pending < 16 * 1024:  # KiB
            break
        time.sleep(0.2)
    time.sleep(1.0)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}")


def main(argv: list[str] | None = None) -> int:
    from centinela.wiring import install

    install()  # the application start: extension files, real-time rules, EWS detectors
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    ap.add_argument("--no-realtime", dest="realtime", action="store_false",
                    help="leave the real-time rules out (they are in by default, as users run "
                         "centinela import)")
    ap.add_argument("--pg", nargs="?", const="postgresql://postgres@127.0.0.1:5432/test",
                    default=None, help="also measure on PostgreSQL at this URL")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="centinela-bench-", dir=args.dir)
    work = Path(tmp.name)
    data = work / "in"
    data.mkdir()
    print(f"machine: {machine()}")
    t0 = time.perf_counter()
    write_files(data, args.rows)
    size = (data / "movements.csv").stat().st_size / 2**20
    print(f"wrote {args.rows:,} movements ({size:.0f} MiB) in {time.perf_counter() - t0:.1f} s")

    settle()
    with PeakRSS() as mem_b:
        n, secs_b = baseline_sqlite(data, work / "baseline.db")
    rate_b = n / secs_b
    print(f"SQLite baseline  (csv → executemany, no constraints): {n:,} rows in {secs_b:.1f} s = "
          f"{rate_b:,.0f} rows/s, peak RSS +{mem_b.delta_mb:.0f} MiB")
    import centinela.ingest.service  # noqa: F401  (module imports are not import memory)
    import centinela.models  # noqa: F401
    from centinela.ingest import worker

    second = worker.parallel_possible() and args.rows >= worker.PARALLEL_MIN_ROWS
    print("validation: " + ("in a second process (centinela.ingest.worker)" if second
                            else "in the importing process"))

    settle()
    with PeakRSS() as mem_c:
        report, secs_c, rt = centinela_import(
            data, f"sqlite:///{work / 'centinela.db'}", args.realtime)
    rows_c = report["totals"]["read"]
    rate_c = rows_c / secs_c
    mv = next(f for f in report["files"] if f["record_type"] == "movements")
    print(f"SQLite centinela import (validate, pseudonymize, dedup, 10 indexes"
          f"{', real-time rules' if args.realtime else ''}): {rows_c:,} records "
          f"({mv['accepted']:,} movements accepted, {mv['rejected']} rejected) in {secs_c:.1f} s = "
          f"{rate_c:,.0f} rows/s, peak RSS +{mem_c.delta_mb:.0f} MiB (validating child process: "
          f"peak RSS {mem_c.child_mb:.0f} MiB); real-time rules: {rt}")
    ratios = {"SQLite": rate_b / rate_c}
    print(f"ratio SQLite baseline/centinela: {ratios['SQLite']:.2f}x (target ≤ 4x)")
    if args.pg:
        pg = _bench_pg(data, args.pg, args.realtime)
        if pg is not None:
            ratios["PostgreSQL"] = pg
    print("ratios (import as users run it / bare load of the same file, same run): "
          + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()) + " (target ≤ 4x)")
    tmp.cleanup()
    return 0


def _bench_pg(data: Path, url: str, realtime: bool = True) -> float | None:
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - report and skip
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}); skipped")
        return None
    schema = f"bench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        settle()
        n, secs_b = baseline_pg(data, url, schema)
        print(f"PostgreSQL baseline (csv → COPY, no constraints): {n:,} rows in {secs_b:.1f} s = "
              f"{n / secs_b:,.0f} rows/s")
        sep = "&" if "?" in url else "?"
        settle()
        with PeakRSS() as mem:
            report, secs, rt = centinela_import(
                data, f"{url}{sep}options=-csearch_path%3D{schema}", realtime)
        rows = report["totals"]["read"]
        ratio = (n / secs_b) / (rows / secs)
        print(f"PostgreSQL centinela import (partitioned by month, COPY into month tables "
              f"indexed as they finish"
              f"{', real-time rules' if realtime else ''}): {rows:,} records in {secs:.1f} s = "
              f"{rows / secs:,.0f} rows/s, peak RSS +{mem.delta_mb:.0f} MiB (child "
              f"{mem.child_mb:.0f} MiB); real-time rules: {rt}; ratio {ratio:.2f}x")
        return ratio
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_parts" CASCADE')


if __name__ == "__main__":
    sys.exit(main())
