"""Quarterly report benchmark: a national year → ``centinela quarterly`` (figures, HTML, PDF).

Generates a national year (``centinela generate --scale 1.0``) ending with the quarter, imports
it into a fresh SQLite file (or uses ``--db``), then in the same process measures
(a) the baseline — one bare SQL ``GROUP BY`` of the quarter's dispensed and administered
quantities, the least any consumption report must read — and (b) the whole report as the command
makes it (every figure, the HTML with inline SVG charts, the WeasyPrint PDF, the files), with the
time of each part and the ratio to the baseline.

    python3 benchmarks/quarterly_report.py [--scale 1.0] [--quarter 2026Q3] [--db sqlite:///x.db]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select


def _run(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--quarter", default="2026Q3")
    ap.add_argument("--db", default=None, help="use this database instead of generating one")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from centinela.db import create_schema, get_engine, session_scope
    from centinela.ledger.records import Movement
    from centinela.quarterly.figures import Quarter, quarter_figures
    from centinela.quarterly.render import render_html, render_pdf
    from centinela.quarterly.service import produce

    q = Quarter.parse(args.quarter)
    work = Path(tempfile.mkdtemp(prefix="centinela-quarterly-"))
    url = args.db
    gen_s = imp_s = None
    if url is None:
        url = f"sqlite:///{work / 'national.db'}"
        env = dict(os.environ, CENTINELA_DATABASE_URL=url)
        start = q.shift(-3).first_day  # a year: four quarters ending with this one
        days = (q.last_day - start).days + 1
        gen_s = _run(["centinela", "generate", str(work / "data"), "--scale", str(args.scale),
                      "--seed", str(args.seed), "--start", start.isoformat(), "--days",
                      str(days)], env)
        imp_s = _run(["centinela", "import", str(work / "data")], env)
    engine = get_engine(url)
    create_schema(engine)
    s0, s1 = q.utc_bounds()
    with session_scope(engine) as s:
        n_mv = s.scalar(select(func.count()).select_from(Movement))
        t = time.perf_counter()
        rows = s.execute(select(Movement.establishment_id, Movement.product_code,
                                func.sum(Movement.quantity))
                         .where(Movement.event_type.in_(("dispense", "administer")),
                                Movement.occurred_at >= s0, Movement.occurred_at < s1)
                         .group_by(Movement.establishment_id, Movement.product_code)).all()
        base = time.perf_counter() - t
        t = time.perf_counter()
        figures = quarter_figures(s, q)
        fig_s = time.perf_counter() - t
        t = time.perf_counter()
        html = render_html(figures)
        html_s = time.perf_counter() - t
        t = time.perf_counter()
        pdf = render_pdf(html)
        pdf_s = time.perf_counter() - t
    with session_scope(engine) as s:
        t, c = time.perf_counter(), time.process_time()
        res = produce(s, q.label, work / "out", dt.datetime(2026, 12, 1))
        total, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{engine.dialect.name}; load average {os.getloadavg()[0]:.1f}")
    print(f"database: {url} — {n_mv:,} movements")
    if gen_s is not None:
        print(f"generate --scale {args.scale}: {gen_s:.1f} s; import: {imp_s:.1f} s")
    print(f"baseline (bare GROUP BY of the quarter's consumption, {len(rows):,} groups): {base:.2f} s")
    print(f"figures {fig_s:.1f} s ({fig_s / base:.1f}x), HTML {html_s:.2f} s, "
          f"PDF {pdf_s:.1f} s ({len(pdf) / 1024:.0f} KiB)")
    print(f"whole report as the command makes it (figures, HTML, PDF, files, store, queue): "
          f"{total:.1f} s wall, {cpu:.1f} s CPU ({total / base:.1f}x the baseline); "
          f"digest {res.digest[:16]}")
    for f in res.files:
        print(f"  {f} ({Path(f).stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
