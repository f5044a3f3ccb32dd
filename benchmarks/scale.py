"""Scale benchmark: N national years on PostgreSQL — import, detection, lookup, inbox and map.

For each size (national years; scale 1 ≈ 1 M movements a year) the generator writes the years
(``centinela generate --years N``), ``centinela import`` loads them into a fresh PostgreSQL
database, and then, each in a child process whose peak RSS (``VmHWM``) is its own:

- batch detection (``run_all``: the lookback window plus each detector's declared history);
- the same with the whole history loaded (``CENTINELA_DETECT_HISTORY_DAYS=-1``, the old way),
  unless ``--no-full-history``;
- an incremental run after a one-movement import from one pharmacy.

Then the patient lookup (random dispensed patients), the inbox and the map are timed through an
in-process client (as ``web_latency.py`` does). Growth factors are against the first size of
the same run.

    python3 benchmarks/scale.py --sizes 1,3          # what fits a shared 2-core machine
    python3 benchmarks/scale.py --sizes 1,10 --write # the target: 1 M and 10 M movements
    python3 benchmarks/scale.py --sizes 1,2 --scale 0.1   # quick check while developing
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
HERE = Path(__file__).parent
README = HERE / "README.md"
SRC = HERE.parent / "src"
PASSWORD = "medicion-de-escala-2026"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Peak RSS of a child: VmHWM of its own address space. (ru_maxrss is not: Linux carries the
# parent's high-water mark at fork across exec.)
_HWM = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024"

_CHILD_DETECT = """
import json, os, sys, time
from centinela.db import get_engine
from centinela.detect.engine import run_all
t = time.perf_counter()
r = run_all(get_engine(), incremental=bool(int(os.environ["BENCH_INCREMENTAL"])))
print(json.dumps({"seconds": time.perf_counter() - t, "movements": r.movements, "mode": r.mode,
                  "alerts": r.new + r.updated, "errors": [e.name for e in r.errors],
                  "maxrss_mb": HWM}))
""".replace("HWM", _HWM)


def child(code: str, env: dict[str, str]) -> dict:
    """Run ``code`` in a fresh interpreter and return the JSON it prints last."""
    full = {**os.environ, "PYTHONPATH": str(SRC), **env}
    out = subprocess.run([sys.executable, "-c", code], env=full, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``centinela ARGS`` in a child; return (seconds, peak RSS MiB of that child)."""
    code = ("import json, sys, time\nfrom centinela.cli import main\n"
            f"sys.argv = ['centinela', *{args!r}]\nt = time.perf_counter()\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(json.dumps({'s': time.perf_counter() - t, "
            f"'rss': {_HWM}}}))")
    r = child(code, env)
    return r["s"], r["rss"]


def fresh_database(name: str) -> str:
    """Drop and create database ``name``; return its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def one_loss(folder: Path, url: str) -> None:
    """Write a one-movement import: a loss at a pharmacy, a day before the data end."""
    from sqlalchemy import func, select

    from centinela.db import make_engine, session_scope
    from centinela.ledger.records import Movement

    eng = make_engine(url)
    with session_scope(eng) as s:
        end = s.scalar(select(func.max(Movement.occurred_at)))
        m = s.scalars(select(Movement).where(Movement.event_type == "dispense",
                                             Movement.occurred_at >= end - dt.timedelta(days=5),
                                             Movement.professional_id.is_not(None))
                      .limit(1)).first()
        row = (m.establishment_id, m.product_code, m.lot, m.professional_id)
    eng.dispose()
    at = (end - dt.timedelta(days=1, hours=5)).strftime("%Y-%m-%dT%H:%M:%S-05:00")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movements.csv").write_text(
        "event_id,event_type,occurred_at,establishment_id,product_code,quantity,counterparty_id,"
        "lot,expiry,serial,prescription_id,prescriber_id,professional_id,patient_id,patient_sex,"
        "patient_birth_year,patient_ubigeo,days_supply,witness_id\n"
        f"MV-SCALE-{int(time.time())},loss,{at},{row[0]},{row[1]},2,,{row[2]},2028-12-31,,,,{row[3]},,,,,,\n")


def web(url: str, data: Path, requests: int) -> dict[str, float]:
    """Return p95 (ms) of the patient lookup, the inbox JSON and the map JSON (cold and cached)."""
    sys.path.insert(0, str(HERE))
    from sqlalchemy import func, select
    from web_latency import patient_documents, pct, signed_in_client, timed

    from centinela.accounts.service import create_user
    from centinela.db import make_engine, session_scope
    from centinela.ledger.records import Movement
    from centinela.web.views.common import clear_cache

    engine = make_engine(url)
    with session_scope(engine) as s:
        now = s.scalar(select(func.max(Movement.occurred_at)))
        from centinela.accounts.models import User

        if s.scalar(select(User.id).where(User.username == "bench")) is None:
            create_user(s, "bench", PASSWORD, "admin")  # absent unless --reuse
    docs, busiest = patient_documents(data, requests)
    client = signed_in_client(engine, now, "bench", PASSWORD)
    it = iter(range(10**9))

    def ok(resp):
        assert resp.status_code == 200, (resp.request.url, resp.status_code, resp.text[:200])

    def lookup(doc: str):
        kind, number = doc.split(":", 1)
        ok(client.post("/api/v1/lookup", json={"document_type": kind, "document_number": number,
                                               "reason": "dispensing", "attest": True}))

    cases = {
        "lookup": (lambda: lookup(docs[next(it) % len(docs)]), requests),
        "lookup_busiest": (lambda: lookup(busiest), max(10, requests // 4)),
        "inbox": (lambda: ok(client.get("/api/v1/alerts")), requests),
        "map_cached": (lambda: ok(client.get("/api/v1/map")), requests),
        "map_cold": (lambda: (clear_cache(), ok(client.get("/api/v1/map"))), max(5, requests // 10)),
    }
    out = {}
    for name, (fn, n) in cases.items():
        fn()
        out[name] = pct(timed(fn, n), 0.95)
    engine.dispose()
    return out


def measure(years: int, args, work: Path) -> dict:
    """Generate, import and measure one size."""
    data = work / f"years{years}"
    res: dict = {"years": years}
    if not (data / "movements.csv").exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from centinela.cli import main; main()",
                        "generate", str(data), "--scale", str(args.scale), "--years", str(years),
                        "--seed", str(args.seed), "--start", args.start, "--quiet"],
                       env={**os.environ, "PYTHONPATH": str(SRC)}, check=True,
                       stdout=subprocess.DEVNULL)
        res["generate_s"] = time.perf_counter() - t0
    saved = work / f"import{years}.json"
    if args.reuse and saved.exists():
        # The database of an earlier run, with its import figures (a rerun after a detection
        # change measures detection, lookup, inbox and map again without a 10 M import).
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/centinela_scale_{years}"
        res.update(json.loads(saved.read_text()))
    else:
        url = fresh_database(f"centinela_scale_{years}")
    env = {"CENTINELA_DATABASE_URL": url, "CENTINELA_DATA_DIR": str(work),
           "CENTINELA_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789abcdef"}
    os.environ.update({k: v for k, v in env.items() if k != "CENTINELA_DATABASE_URL"})
    if "import_s" not in res:
        res["import_s"], res["import_rss_mb"] = cli(["import", str(data), "--json"], env)
        saved.write_text(json.dumps({k: res[k] for k in ("import_s", "import_rss_mb")}))
    print(json.dumps(res), flush=True)
    det = child(_CHILD_DETECT, {**env, "BENCH_INCREMENTAL": "0"})
    res.update(detect_s=det["seconds"], detect_rss_mb=det["maxrss_mb"],
               loaded=det["movements"], alerts=det["alerts"], detect_errors=det["errors"])
    print(json.dumps(res), flush=True)
    if not args.no_full_history:
        old = child(_CHILD_DETECT, {**env, "BENCH_INCREMENTAL": "0",
                                    "CENTINELA_DETECT_HISTORY_DAYS": "-1"})
        res.update(full_history_s=old["seconds"], full_history_rss_mb=old["maxrss_mb"],
                   full_history_loaded=old["movements"])
    one_loss(work / f"extra{years}", url)
    cli(["import", str(work / f"extra{years}"), "--json"], env)
    inc = child(_CHILD_DETECT, {**env, "BENCH_INCREMENTAL": "1"})
    res.update(incremental_s=inc["seconds"], incremental_rss_mb=inc["maxrss_mb"],
               incremental_mode=inc["mode"])
    from sqlalchemy import func, select

    from centinela.db import make_engine, session_scope
    from centinela.ledger.records import Movement

    eng = make_engine(url)
    with session_scope(eng) as s:
        res["movements"] = s.scalar(select(func.count()).select_from(Movement))
    eng.dispose()
    res.update({f"{k}_p95_ms": v for k, v in web(url, data, args.requests).items()})
    print(json.dumps(res), flush=True)
    return res


FIELDS = [
    ("movements", "movements stored", "{:,}"), ("import_s", "`centinela import` s", "{:.0f}"),
    ("loaded", "movements loaded by detection", "{:,}"),
    ("detect_s", "detection wall s", "{:.1f}"), ("detect_rss_mb", "detection peak RSS MiB", "{:.0f}"),
    ("full_history_s", "whole history: detection s", "{:.1f}"),
    ("full_history_rss_mb", "whole history: peak RSS MiB", "{:.0f}"),
    ("incremental_s", "incremental after 1 new movement s", "{:.1f}"),
    ("incremental_rss_mb", "incremental peak RSS MiB", "{:.0f}"),
    ("lookup_p95_ms", "patient lookup p95 ms", "{:.0f}"),
    ("lookup_busiest_p95_ms", "busiest patient lookup p95 ms", "{:.0f}"),
    ("inbox_p95_ms", "inbox JSON p95 ms", "{:.0f}"), ("map_cached_p95_ms", "map JSON p95 ms", "{:.0f}"),
    ("map_cold_p95_ms", "map JSON cold p95 ms", "{:.0f}"),
]


def table(results: list[dict]) -> list[str]:
    """Return the Markdown table of the sizes measured with growth factors against the first."""
    base = results[0]
    head = "| | " + " | ".join(f"{r['years']} year(s)" for r in results) + " | growth (last / first) |"
    lines = [head, "|---" * (len(results) + 2) + "|"]
    for key, label, f in FIELDS:
        if not all(key in r for r in results):
            continue
        vals = " | ".join(f.format(r[key]) for r in results)
        g = results[-1][key] / base[key] if base[key] else float("nan")
        lines.append(f"| {label} | {vals} | {g:.2f}× |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,10", help="national years per size, comma-separated")
    ap.add_argument("--scale", type=float, default=1.0, help="generator scale per year (1 ≈ 1 M)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2016-07-01", help="first day of the first year")
    ap.add_argument("--requests", type=int, default=100, help="timed requests per endpoint")
    ap.add_argument("--workdir", default="", help="keep (and reuse) generated data here")
    ap.add_argument("--no-full-history", action="store_true",
                    help="skip the whole-history detection run (the old way) per size")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse each size's database and import figures from an earlier run "
                         "with the same --workdir (detection and web measured again)")
    ap.add_argument("--write", action="store_true", help="write the table into benchmarks/README.md")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    # The last year of every size ends on the same day: later sizes add older history.
    work = Path(args.workdir or tempfile.mkdtemp(prefix="centinela-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(SRC))
    results = []
    for years in sizes:
        start = dt.date.fromisoformat(args.start)
        last = max(sizes)
        first = start.replace(year=start.year + (last - years))
        sub = argparse.Namespace(**{**vars(args), "start": first.isoformat()})
        results.append(measure(years, sub, work))
    lines = table(results)
    print("\n".join(lines))
    if args.write:
        write(results, lines, args)


def write(results: list[dict], lines: list[str], args) -> None:
    """Replace the '## Detection at scale' table in README.md (the prose around it is kept)."""
    text = README.read_text()
    marker = "<!-- scale.py table -->"
    load = os.getloadavg()[0]
    block = [marker,
             f"`python3 benchmarks/scale.py --sizes {args.sizes} --scale {args.scale:g} --write` "
             f"— {dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores (shared; load "
             f"average {load:.1f} at the end), Python {platform.python_version()}, PostgreSQL.", "",
             *lines, marker]
    if marker in text:
        a = text.index(marker)
        b = text.index(marker, a + len(marker)) + len(marker)
        text = text[:a] + "\n".join(block) + text[b:]
    else:
        text = text.rstrip() + "\n\n## Detection at scale\n\n" + "\n".join(block) + "\n"
    README.write_text(text)


if __name__ == "__main__":
    main()
