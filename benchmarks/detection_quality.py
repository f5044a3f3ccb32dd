"""Detection benchmark: recall, precision and look-alikes flagged on generated data, next to a
generic baseline (IsolationForest on per-subject features flagging as many subjects), plus the
``detect`` wall time and the real-time per-event latency.

For each seed: ``centinela.generate`` (planted scenarios + legitimate look-alikes, truth.jsonl)
→ ``import`` into a fresh SQLite file → ``run_all``. Thresholds are Centinela's defaults (chosen
from published criteria and tail probabilities, never fitted to this generator).

    python3 benchmarks/detection_quality.py --seeds 1,2,3 --scales 0.3,1.0 --modes clean,noisy [--write]

``--write`` replaces the ``## Detection`` section of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

SLACK = dt.timedelta(days=31)
NOTIFICATIONS = ("loss_report",)  # rule: every loss is reported, whatever its cause


def _parse_day(value: str, end: bool = False) -> dt.datetime:
    d = dt.datetime.fromisoformat(value)
    if d.tzinfo is not None:
        d = d.astimezone(dt.UTC).replace(tzinfo=None)
    return d + dt.timedelta(days=1) if end and len(value) == 10 else d


def load_truth(path: Path) -> list[dict]:
    """Read truth.jsonl rows."""
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _overlaps(alert_ws, alert_we, t: dict) -> bool:
    ts, te = _parse_day(t["window_start"]), _parse_day(t["window_end"], end=True)
    return alert_ws <= te + SLACK and alert_we >= ts - SLACK


def evaluate(flagged: dict[tuple[str, str], list[tuple]], truth: list[dict]) -> dict:
    """Score flagged subjects {(kind, id): [(window_start, window_end, detector), …]} on truth."""
    planted = [t for t in truth if t["kind"] == "planted"]
    looks = [t for t in truth if t["kind"] == "lookalike"]

    def hit(t):
        return any(_overlaps(x[0], x[1], t) for x in flagged.get((t["subject_kind"], t["subject_id"]), []))

    found = [t for t in planted if hit(t)]

    def hit_look(t, min_rank: int = 0):
        # An alert on a look-alike subject that is also planted (the cancer institute that also
        # loses ampoules) counts for the planted scenario when it overlaps the planted window.
        twins = [p for p in planted if (p["subject_kind"], p["subject_id"]) ==
                 (t["subject_kind"], t["subject_id"])]
        return any(_overlaps(x[0], x[1], t) and RANK[x[3]] >= min_rank
                   and not any(_overlaps(x[0], x[1], p) for p in twins)
                   for x in flagged.get((t["subject_kind"], t["subject_id"]), []))

    evaluate.hit_look = hit_look
    planted_subjects = {(t["subject_kind"], t["subject_id"]) for t in planted}
    # The outlets through which a planted regional surge flows are part of it (an order alert
    # on one of them is a lead on the planted activity).
    planted_subjects |= {("establishment", e) for t in planted
                         for e in t.get("involved_establishments", [])}
    # The prescribers who write a planted prescription mill's prescriptions are part of it.
    planted_subjects |= {("professional", p) for t in planted
                         for p in t.get("involved_professionals", [])}
    n_alerts = sum(len(v) for v in flagged.values())

    def true_subject(key, items) -> bool:
        # A regional alert whose named drivers include a planted subject found that subject.
        return key in planted_subjects or any(
            n in planted_subjects for x in items if len(x) > 4 for n in x[4])

    true_alerts = sum(len(v) for k, v in flagged.items() if true_subject(k, v))
    # Findings only: without the per-event loss notifications (every loss is reported by rule).
    n_find = sum(1 for v in flagged.values() for x in v if x[2] not in NOTIFICATIONS)
    true_find = sum(1 for k, v in flagged.items() if k in planted_subjects
                    for x in v if x[2] not in NOTIFICATIONS)
    return {
        "planted": len(planted), "found": len(found),
        "recall": len(found) / len(planted) if planted else None,
        "alerts": n_alerts, "subjects": len(flagged),
        "precision_alerts": true_alerts / n_alerts if n_alerts else None,
        "precision_subjects": (sum(1 for k, v in flagged.items() if true_subject(k, v)) / len(flagged)
                               if flagged else None),
        "false_subjects": sorted(f"{k[1]}:{','.join(sorted({x[2] for x in v}))}"
                                 for k, v in flagged.items() if not true_subject(k, v)),
        "findings": n_find, "precision_findings": true_find / n_find if n_find else None,
        "per_detector": per_detector(flagged, true_subject),
        "lookalikes": len(looks), "lookalikes_flagged": sum(1 for t in looks if hit_look(t)),
        "missed": sorted(t["scenario"] for t in planted if t not in found),
        "lookalikes_hit": sorted(t["scenario"] for t in looks if hit_look(t)),
    }


RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def per_detector(flagged: dict, true_subject) -> dict[str, dict]:
    """Per detector: flagged subjects, how many are planted (true), and the false ones."""
    out: dict[str, dict] = {}
    for key, items in flagged.items():
        ok = true_subject(key, items)
        for det in sorted({x[2] for x in items}):
            row = out.setdefault(det, {"subjects": 0, "true": 0, "false": []})
            row["subjects"] += 1
            row["true"] += int(ok)
            if not ok:
                row["false"].append(key[1])
    return out


def centinela_flags(session, min_severity: str = "low") -> dict:
    """Alerts by subject: {(kind, id): [(window_start, window_end, detector, severity), …]}."""
    from centinela.alerts.models import Alert

    out: dict = defaultdict(list)
    for a in session.query(Alert):
        if RANK[a.severity] >= RANK[min_severity]:
            # Named drivers: regional_surge keeps them under "drivers", regional_outlier at the
            # top level of its evidence (same shape: [{"id": …, "share": …}, …]).
            ev = a.evidence or {}
            drivers = ev.get("drivers") or (ev if a.subject_kind == "region" else {})
            named = [("establishment", x["id"]) for x in (drivers.get("establishments") or [])[:3]
                     if isinstance(x, dict)]
            named += [("professional", x["id"]) for x in (drivers.get("prescribers") or [])[:3]
                      if isinstance(x, dict)]
            out[(a.subject_kind, a.subject_id)].append(
                (a.window_start, a.window_end, a.detector, a.severity, named))
    return out


def lookalikes_at(flags: dict, truth: list[dict], min_severity: str) -> list[str]:
    """Look-alike scenarios flagged at ``min_severity`` or above."""
    evaluate(flags, truth)
    return sorted(t["scenario"] for t in truth
                  if t["kind"] == "lookalike" and evaluate.hit_look(t, RANK[min_severity]))


def baseline_flags(session, per_kind: dict[str, int]) -> dict:
    """IsolationForest per subject kind on generic per-subject features; top-k per kind."""
    from sklearn.ensemble import IsolationForest

    from centinela.detect.context import DetectionContext
    from centinela.detect.engine import latest_movement_time
    from centinela.ledger.records import EVENT_TYPES

    now = latest_movement_time(session)
    ctx = DetectionContext(session, now)
    f = ctx.frame
    mme, qty = ctx.row_mme, f.qty
    span = (int(f.t.min()), int(f.t.max())) if f.n else (0, 0)
    window = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=span[0]),
              dt.datetime(1970, 1, 1) + dt.timedelta(seconds=span[1]))
    out: dict = defaultdict(list)

    def features(codes: np.ndarray, n: int, extra: list[np.ndarray]) -> np.ndarray:
        ok = codes >= 0
        cols = []
        for e in range(len(EVENT_TYPES)):
            m = ok & (f.etype == e)
            cols.append(np.bincount(codes[m], minlength=n))
            cols.append(np.bincount(codes[m], weights=qty[m], minlength=n))
            cols.append(np.bincount(codes[m], weights=mme[m], minlength=n))
        return np.log1p(np.column_stack(cols + extra))

    def distinct(codes, other, n):
        ok = (codes >= 0) & (other >= 0)
        pairs = np.unique(codes[ok].astype(np.int64) * (int(other.max(initial=0)) + 1) + other[ok])
        return np.bincount((pairs // (int(other.max(initial=0)) + 1)).astype(np.int64), minlength=n)

    kinds = {
        "professional": (lambda: np.where(f.prescriber >= 0, f.prescriber, f.professional),
                         len(f.profv), f.profv),
        "establishment": (lambda: f.est, len(f.estv), f.estv),
        "patient": (lambda: f.patient, len(f.patv), f.patv),
    }
    for kind, (codes_fn, n, vocab) in kinds.items():
        k = per_kind.get(kind, 0)
        if not k or n == 0:
            continue
        codes = codes_fn()
        extra = [distinct(codes, f.patient, n), distinct(codes, f.est, n),
                 distinct(codes, f.prescriber, n), distinct(codes, f.counterparty, n)]
        X = features(codes, n, extra)
        active = np.flatnonzero(X.sum(axis=1) > 0)
        if len(active) < 2:
            continue
        forest = IsolationForest(n_estimators=200, random_state=0).fit(X[active])
        score = -forest.score_samples(X[active])
        for i in active[np.argsort(-score)[:k]]:
            out[(kind, vocab.name(int(i)))].append((window[0], window[1], "isolation_forest",
                                                     "high", []))
    return out


def realtime_latency(engine, n_events: int = 200) -> dict:
    """Time after_import on a fresh API-sized batch and one single-event import."""
    from sqlalchemy import select

    from centinela.alerts.models import Delivery
    from centinela.db import session_scope
    from centinela.detect.realtime import after_import
    from centinela.ledger.records import ImportRun, Movement
    from centinela.registry.models import Establishment, Product

    with session_scope(engine) as s:
        est = s.scalar(select(Establishment.establishment_id).limit(1))
        prod = s.scalar(select(Product.product_code).limit(1))
        at = s.scalar(select(Movement.occurred_at).order_by(Movement.occurred_at.desc()).limit(1))
    results = {}
    for label, n in (("batch", n_events), ("single", 1)):
        with session_scope(engine) as s:
            run = ImportRun(source="bench", channel="api", started_at=at, status="completed")
            s.add(run)
            s.flush()
            for i in range(n):
                s.add(Movement(event_id=f"BENCH-{label}-{i}", event_type="loss" if i == 0 else "count",
                               occurred_at=at, establishment_id=est, product_code=prod,
                               quantity=1.0, content_hash="bench", import_id=run.id))
            rid = run.id
        t0 = time.perf_counter()
        with session_scope(engine) as s:
            after_import(s, rid, now=at)
        elapsed = time.perf_counter() - t0
        with session_scope(engine) as s:
            queued = s.query(Delivery).filter(Delivery.payload["event_ids"].is_not(None)).count() >= 0
        results[label] = {"events": n, "seconds": elapsed, "ms_per_event": 1000 * elapsed / n,
                          "in_outbox": bool(queued)}
    return results


def _clear_judgement(engine) -> None:
    """Forget every alert and delivery and the real-time benchmark's own rows, keeping the
    imported year, so the detectors can judge it again (``--rejudge``)."""
    from sqlalchemy import text

    with engine.begin() as c:
        c.execute(text("DELETE FROM movements WHERE event_id LIKE 'BENCH-%'"))
        c.execute(text("DELETE FROM import_runs WHERE source = 'bench'"))
        c.execute(text("DELETE FROM delivery_attempts"))
        c.execute(text("DELETE FROM deliveries"))
        c.execute(text("DELETE FROM case_events"))
        c.execute(text("DELETE FROM alerts"))


def run_seed(seed: int, scale: float, workdir: Path, noise: bool = False,
             rejudge: bool = False) -> dict:
    from sqlalchemy import func, select

    from centinela.alerts.models import Delivery
    from centinela.db import create_schema, make_engine, session_factory
    from centinela.detect.engine import run_all
    from centinela.generate import generate
    from centinela.ingest.service import import_directory

    tag = f"seed{seed}-{scale}-{'noisy' if noise else 'clean'}"
    data = workdir / tag
    db = workdir / f"{tag}.db"
    if rejudge and db.exists() and (data / "truth.jsonl").exists():
        # The same imported year judged again by the current detectors.
        engine = make_engine(f"sqlite:///{db}")
        # A year imported by an older Centinela lacks the newer tables (detect_state, ...).
        create_schema(engine)
        _clear_judgement(engine)
        gen, t_gen, t_imp, queued = None, 0.0, 0.0, None
    else:
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
        t0 = time.perf_counter()
        gen = generate(data, seed=seed, scale=scale, noise=noise)
        t_gen = time.perf_counter() - t0
        engine = make_engine(f"sqlite:///{db}")
        create_schema(engine)
        t0 = time.perf_counter()
        # A backfill: the whole (past) year imported today, real-time rules on.
        import_directory(engine, data, channel="cli")
        t_imp = time.perf_counter() - t0
        with session_factory(engine)() as s:
            queued = s.scalar(select(func.count()).select_from(Delivery))
    report = run_all(engine)
    truth = load_truth(data / "truth.jsonl")
    with session_factory(engine)() as s:
        ours = centinela_flags(s)
        ours_med = centinela_flags(s, "medium")
        per_kind: dict[str, int] = defaultdict(int)
        for kind, _ in ours_med:
            per_kind[kind] += 1
        base = baseline_flags(s, per_kind)
    latency = realtime_latency(engine) if not noise else None
    engine.dispose()
    return {"seed": seed, "scale": scale, "noise": noise, "movements": report.movements,
            "generate_s": t_gen, "import_s": t_imp, "detect_s": report.seconds,
            "detect_load_s": report.load_seconds, "backfill_deliveries": queued,
            "quirks": gen.quirks if gen is not None else None,
            "per_detector": {r.name: r.found for r in report.results},
            "errors": [r.name for r in report.errors],
            "centinela": evaluate(ours, truth), "medium": evaluate(ours_med, truth),
            "lookalikes_high": lookalikes_at(ours, truth, "high"),
            "baseline": evaluate(base, truth), "realtime": latency}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


PREVIOUS = """Before issue 10 (2026-12-02 figures of this benchmark, clean generator only, all
severities): scale 0.05 seeds 1–3 recall 16/17, 17/17, 17/17, precision 77–89 % of subjects;
national scale (1.0) 79 / 75 / 93 alerts at 24–28 % of subjects; the per-event rules queued a
delivery for every historical loss and self-witnessed waste at import (an independent national
year with reporting quirks gave 2,794 alerts on 600 subjects, 3 % real findings, and 5,396
deliveries queued by its backfill import)."""


def render(results: list[dict]) -> str:
    """Return the Markdown section with the figures."""
    seeds = ",".join(sorted({str(r["seed"]) for r in results}))
    scales = ",".join(sorted({str(r["scale"]) for r in results}))
    lines = ["## Detection", "",
             f"`python3 benchmarks/detection_quality.py --seeds {seeds} --scales {scales} "
             f"--modes clean,noisy --write` — {dt.date.today()}, {platform.machine()}, "
             f"{os.cpu_count()} cores (shared), Python {platform.python_version()}, SQLite. Synthetic "
             "data from `centinela.generate` (planted scenarios and legitimate look-alikes in "
             "`truth.jsonl`), clean and with `--noise` (the reporting quirks of "
             "`docs/generator.md`); thresholds are the defaults, not fitted to this generator. "
             "Each year is imported as a backfill today (real-time rules on) and then judged by "
             "`run_all`. A planted scenario counts as found when an alert names its subject with a "
             "window overlapping the truth window (± 31 days). Precision: flagged subjects "
             "(severity medium and above) that are planted subjects or the outlets a planted "
             "regional surge flows through (listed in truth.jsonl; a regional alert counts when "
             "the establishments or prescribers it names as drivers include a planted subject); "
             "alerts on unlabelled subjects count against it even when they are genuine findings "
             "of the synthetic data. A look-alike that is also a planted subject (in some seeds "
             "the cancer institute both orders legitimately and loses ampoules) counts as flagged "
             "only by alerts outside the planted window.",
             "",
             "| mode | scale | seed | movements | detect s | recall | precision (subjects, medium+) "
             "| precision (alerts, medium+) | alerts (all / medium+) | alerts per M movements | "
             "backfill deliveries | look-alikes flagged (any / high+) | baseline recall | "
             "baseline precision |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c, m, b = r["centinela"], r["medium"], r["baseline"]
        per_m = 1e6 * c["alerts"] / max(r["movements"], 1)
        lines.append(
            f"| {'noisy' if r['noise'] else 'clean'} | {r['scale']} | {r['seed']} | "
            f"{r['movements']:,} | {r['detect_s']:.1f} | {c['found']}/{c['planted']} "
            f"({_pct(c['recall'])}) | {_pct(m['precision_subjects'])} ({m['subjects']}) | "
            f"{_pct(m['precision_alerts'])} | {c['alerts']} / {m['alerts']} | {per_m:.0f} | "
            f"{'—' if r['backfill_deliveries'] is None else r['backfill_deliveries']} | "
            f"{c['lookalikes_flagged']}/{c['lookalikes']} / "
            f"{len(r['lookalikes_high'])} | {b['found']}/{b['planted']} ({_pct(b['recall'])}) | "
            f"{_pct(b['precision_subjects'])} |")
    missed = sorted({m for r in results for m in r["centinela"]["missed"]})
    looks = sorted({m for r in results for m in r["centinela"]["lookalikes_hit"]})
    high = sorted({m for r in results for m in r["lookalikes_high"]})
    rt = [r["realtime"] for r in results if r.get("realtime")]
    lines += ["", f"Missed planted scenarios (any run): {', '.join(missed) or 'none'}.",
              f"Look-alikes flagged at any severity (any run): {', '.join(looks) or 'none'}; at "
              f"high or critical: {', '.join(high) or 'none'}."]
    if rt:
        lines.append(
            f"Real-time rules (`after_import`): {np.mean([x['batch']['ms_per_event'] for x in rt]):.2f} ms "
            f"per event on a {rt[0]['batch']['events']}-event batch; a single-event import is "
            f"judged and its alert queued in the outbox in "
            f"{1000 * np.mean([x['single']['seconds'] for x in rt]):.0f} ms.")
    lines += ["", PREVIOUS, ""]
    return "\n".join(lines)


def national_timing(db: Path, truth: Path | None = None) -> str:
    """Time ``run_all`` on an already imported national-scale SQLite file (first and repeat run)."""
    from centinela.db import make_engine
    from centinela.detect.engine import run_all

    engine = make_engine(f"sqlite:///{db}")
    first = run_all(engine)
    again = run_all(engine)
    quality = ""
    if truth is not None:
        from centinela.db import session_factory

        with session_factory(engine)() as s:
            c = evaluate(centinela_flags(s), load_truth(truth))
        quality = (f" On that year: recall {c['found']}/{c['planted']}, precision "
                   f"{_pct(c['precision_alerts'])} of {c['alerts']} alerts "
                   f"({_pct(c['precision_subjects'])} of {c['subjects']} subjects; "
                   f"{_pct(c['precision_findings'])} of {c['findings']} alerts without loss_report), look-alikes "
                   f"flagged {c['lookalikes_flagged']}/{c['lookalikes']} "
                   f"({', '.join(c['lookalikes_hit']) or 'none'}); missed: "
                   f"{', '.join(c['missed']) or 'none'}.")
    engine.dispose()
    slow = sorted(first.results, key=lambda r: -r.seconds)[:3]
    return (f"National scale (`centinela generate --scale 1.0`, {first.movements:,} movements, "
            f"SQLite): `detect` took {first.seconds:.1f} s on the first run ({first.load_seconds:.1f} s "
            f"loading; {first.new} alerts) and {again.seconds:.1f} s when re-run (updates only); "
            f"slowest detectors: " + ", ".join(f"{r.name} {r.seconds:.1f} s" for r in slow) + "."
            + quality + "\n")


def write_section(text: str, readme: Path) -> None:
    """Replace (or append) the ``## Detection`` section of the README, keeping the others."""
    old = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    parts = old.split("\n## ")
    kept = [parts[0]] + [p for p in parts[1:] if not p.startswith("Detection")]
    readme.write_text("\n## ".join(kept).rstrip() + "\n\n" + text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from centinela.wiring import install

    install()  # the application start: extension files, real-time rules, EWS detectors
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--scales", default="0.05", help="Comma-separated scales, e.g. 0.3,1.0")
    ap.add_argument("--modes", default="clean,noisy", help="clean, noisy or both")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--write", action="store_true", help="Update benchmarks/README.md")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--rejudge", action="store_true",
                    help="Reuse the years already generated and imported in --workdir (clear "
                         "their alerts and judge them again); generate only what is missing.")
    ap.add_argument("--national", default=None,
                    help="SQLite file of an imported national year: time `detect` on it too.")
    ap.add_argument("--national-truth", default=None, help="truth.jsonl of that national year.")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="centinela-detect-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for scale in (float(x) for x in args.scales.split(",")):
        for mode in args.modes.split(","):
            for seed in (int(x) for x in args.seeds.split(",")):
                r = run_seed(seed, scale, workdir, noise=mode == "noisy", rejudge=args.rejudge)
                results.append(r)
                c, m = r["centinela"], r["medium"]
                print(json.dumps(r, default=str) if args.json else
                      f"{mode} scale {scale} seed {seed}: {r['movements']:,} movements, detect "
                      f"{r['detect_s']:.1f} s, recall {c['found']}/{c['planted']}, alerts "
                      f"{c['alerts']} (medium+ {m['alerts']}, precision subjects "
                      f"{_pct(m['precision_subjects'])} of {m['subjects']}), backfill deliveries "
                      f"{r['backfill_deliveries']}, look-alikes {c['lookalikes_hit']} (high+ "
                      f"{r['lookalikes_high']}); missed {c['missed']}; per detector "
                      f"{ {k: v for k, v in r['per_detector'].items() if v} }", flush=True)
                if not args.json:
                    for det, row in sorted(m["per_detector"].items()):
                        print(f"    {det}: {row['true']}/{row['subjects']} subjects planted (medium+)"
                              + (f"; false: {', '.join(row['false'])}" if row["false"] else ""),
                              flush=True)
    text = render(results)
    if args.national:
        text += national_timing(Path(args.national),
                                Path(args.national_truth) if args.national_truth else None)
    print(text)
    if args.write:
        write_section(text, Path(__file__).resolve().parent / "README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
