"""CPU seconds of one import, split by process: importing process, validating child, server.

    python3 benchmarks/import_cpu.py --rows 1000000 --pg postgresql://root@127.0.0.1:5432/test

Writes the benchmark year of ``import_bench.py`` (or reuses ``--data``), creates a fresh schema
(PostgreSQL: months created ahead, not timed), runs ``import_directory`` then the real-time
rules, and prints wall seconds and CPU seconds of this process, its children (the validating
child) and the PostgreSQL backends it used (``/proc/<pid>/stat``, same machine only), each
for the import and the real-time rules apart. On a shared machine these CPU seconds move far
less than wall times. ``--load-avg`` lines come from ``/proc/loadavg`` before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_bench  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            parts = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / TICK


def _own() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def run(data: Path, url: str) -> dict:
    import datetime as dt

    from sqlalchemy import event

    from centinela.db import create_schema, make_engine
    from centinela.ingest.service import import_directory, run_realtime
    from centinela.partitions import maintain

    engine = make_engine(url)
    backends: set[int] = set()
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _pid(dbapi_conn, _rec) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                backends.add(cur.fetchone()[0])
    create_schema(engine)
    with engine.begin() as conn:
        maintain(conn, since=dt.date(2025, 1, 1))
    server0 = {p: _proc_cpu(p) for p in backends}
    # The import's side connections (writer._Side) end before the import returns: their CPU
    # is sampled while they live (every 20 ms; the last sample of each backend is kept).
    last: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for p in list(backends):
                cpu = _proc_cpu(p)
                if cpu:
                    last[p] = cpu
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def server() -> float:
        return sum(max(_proc_cpu(p), last.get(p, 0.0)) - server0.get(p, 0.0) for p in backends)

    own0, kids0 = _own()
    t0 = time.perf_counter()
    report = import_directory(engine, data, channel="bench", realtime=False,
                              now=import_bench.BENCH_NOW)
    t1 = time.perf_counter()
    own1, kids1 = _own()
    srv1 = server()
    rt = run_realtime(engine, report.import_id, import_bench.BENCH_NOW)
    t2 = time.perf_counter()
    own2, _ = _own()
    srv2 = server()
    stop.set()
    engine.dispose()
    return {"import_wall": t1 - t0, "import_self": own1 - own0, "child": kids1 - kids0,
            "import_server": srv1, "realtime_wall": t2 - t1, "realtime_self": own2 - own1,
            "realtime_server": srv2 - srv1, "alerts": (rt or {}).get("result")}


def baseline(data: Path, url: str, schema: str) -> tuple[float, float, float]:
    """The bare ``COPY`` of ``import_bench`` (csv reader → COPY into a text table): wall
    seconds, this process's CPU seconds and its server backend's."""
    import psycopg

    own0 = _own()[0]
    # import_bench.baseline_pg opens its own connection: its backend is found by
    # application_name and its CPU read while it lives (the whole life of the backend).
    sep = "&" if "?" in url else "?"
    tagged = f"{url}{sep}application_name=centinela_cpu_baseline"
    done: dict = {}

    def watch() -> None:
        import time as _t

        with psycopg.connect(url, autocommit=True) as c:
            while "n" not in done:
                row = c.execute("SELECT pid FROM pg_stat_activity WHERE application_name = "
                                "'centinela_cpu_baseline'").fetchone()
                if row:
                    done["pid"] = row[0]
                if "pid" in done:
                    done["cpu1"] = _proc_cpu(done["pid"])
                _t.sleep(0.02)

    import threading

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    n, secs = import_bench.baseline_pg(data, tagged, schema)
    own1 = _own()[0]
    done["n"] = n
    th.join()
    return secs, own1 - own0, done.get("cpu1", 0.0)


def main() -> int:
    from centinela.wiring import install

    install()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=None, help="a folder written before")
    ap.add_argument("--pg", default=None, help="PostgreSQL URL (default: SQLite)")
    ap.add_argument("--log", type=int, default=None, metavar="MS",
                    help="PostgreSQL: log the statements of at least MS ms (server log)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="centinela-cpu-")
    data = args.data
    if data is None or not (data / "movements.csv").exists():
        data = data or Path(tmp.name) / "in"
        data.mkdir(parents=True, exist_ok=True)
        import_bench.write_files(data, args.rows)
    with open("/proc/loadavg") as fh:
        load0 = fh.read().split()[0]
    if args.pg:
        import psycopg

        schema = f"cpu_{os.getpid()}"
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in args.pg else "?"
        try:
            b_wall, b_self, b_srv = baseline(data, args.pg, schema)
            print(f"baseline COPY {b_wall:.1f} s wall, CPU: client {b_self:.2f}, server "
                  f"{b_srv:.2f}, total {b_self + b_srv:.2f}")
            log = f"%20-clog_min_duration_statement%3D{args.log}" if args.log is not None else ""
            out = run(data, f"{args.pg}{sep}options=-csearch_path%3D{schema}{log}")
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_parts" CASCADE')
    else:
        out = run(data, f"sqlite:///{Path(tmp.name) / 'cpu.db'}")
    with open("/proc/loadavg") as fh:
        load1 = fh.read().split()[0]
    total = out["import_self"] + out["child"] + out["import_server"]
    every = total + out["realtime_self"] + out["realtime_server"]
    print(f"load {load0} -> {load1}; import {out['import_wall']:.1f} s wall, CPU: importing "
          f"process {out['import_self']:.2f}, child {out['child']:.2f}, server "
          f"{out['import_server']:.2f}, total {total:.2f}; real-time {out['realtime_wall']:.2f} s "
          f"wall, CPU: process {out['realtime_self']:.2f}, server {out['realtime_server']:.2f}; "
          f"alerts {out['alerts']}; import + real-time CPU {every:.2f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
