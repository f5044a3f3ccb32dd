#!/usr/bin/env python3
"""Judge Centinela on a foreign world (``benchmarks/foreign/world.py``).

    PYTHONPATH=$PWD/src python3 benchmarks/foreign/run.py --seeds 1,2 --scale 0.3 [--workdir DIR]
        [--reuse | --rejudge] [--json FILE]

For each seed: generate the world (or reuse it with ``--reuse``), import it into a fresh SQLite
file with ``centinela.ingest.service.import_directory`` (a backfill, real-time rules on, as
``detection_quality.py`` does), run every detector (``run_all``) and score the alerts with
``detection_quality.evaluate`` (same rules: a planted scenario is found when an alert names its
subject with a window overlapping the truth window +- 31 days; precision counts flagged subjects
at severity medium and above). Patient subjects of truth.jsonl are given as documents
(``DNI:…``): they are mapped to Centinela's keyed pseudonym before scoring.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import detection_quality as dq  # noqa: E402
import world  # noqa: E402


def truth_for_centinela(path: Path) -> list[dict]:
    from centinela.privacy import pseudonymize

    out = []
    for t in dq.load_truth(path):
        if t["subject_kind"] == "patient":
            t = dict(t, subject_id=pseudonymize(t["subject_id"]))
        out.append(t)
    return out


def alert_rows(session) -> list:
    from centinela.alerts.models import Alert

    return list(session.query(Alert))


def run_seed(seed: int, scale: float, workdir: Path, reuse: bool = False,
             rejudge: bool = False) -> dict:
    from centinela.db import create_schema, make_engine, session_factory
    from centinela.detect.engine import run_all
    from centinela.ingest.service import import_directory

    data = workdir / f"foreign-seed{seed}-{scale}"
    db = workdir / f"foreign-seed{seed}-{scale}.db"
    t0 = time.perf_counter()
    if not (reuse and (data / "truth.jsonl").exists()):
        gen = world.generate(data, seed=seed, scale=scale)
    else:
        gen = json.loads((data / "summary.json").read_text())
    t_gen = time.perf_counter() - t0
    if rejudge and db.exists():
        # The same imported year judged again by the current detectors (alerts cleared).
        engine = make_engine(f"sqlite:///{db}")
        create_schema(engine)
        dq._clear_judgement(engine)
        rep, t_imp = None, 0.0
    else:
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{db}")
        create_schema(engine)
        t0 = time.perf_counter()
        rep = import_directory(engine, data, channel="cli")
        t_imp = time.perf_counter() - t0
    report = run_all(engine)
    truth = truth_for_centinela(data / "truth.jsonl")
    with session_factory(engine)() as s:
        flags = dq.centinela_flags(s)
        flags_med = dq.centinela_flags(s, "medium")
        alerts = alert_rows(s)
        planted_subjects = {(t["subject_kind"], t["subject_id"]) for t in truth if t["kind"] == "planted"}
        planted_subjects |= {("establishment", e) for t in truth if t["kind"] == "planted"
                             for e in t.get("involved_establishments", [])}
        tied = tied_subjects(s, truth)
        look_subjects = {(t["subject_kind"], t["subject_id"]): t["scenario"] for t in truth
                         if t["kind"] == "lookalike"}
        false_rows = []
        for a in alerts:
            key = (a.subject_kind, a.subject_id)
            if dq.RANK[a.severity] < dq.RANK["medium"] or key in planted_subjects:
                continue
            ev = a.evidence or {}
            drivers = ev.get("drivers") or (ev if a.subject_kind == "region" else {})
            named = [x.get("id") for x in (drivers.get("establishments") or [])[:3] if isinstance(x, dict)]
            named += [x.get("id") for x in (drivers.get("prescribers") or [])[:3] if isinstance(x, dict)]
            if any(("establishment", n) in planted_subjects or ("professional", n) in planted_subjects
                   for n in named):
                continue
            false_rows.append({"detector": a.detector, "subject_kind": a.subject_kind,
                               "subject_id": a.subject_id, "severity": a.severity,
                               "score": round(float(a.score), 2),
                               "lookalike": look_subjects.get(key, ""),
                               "tied": tied.get(key, ""),
                               "window": f"{a.window_start:%Y-%m-%d}..{a.window_end:%Y-%m-%d}",
                               "summary": a.summary})
        hits = defaultdict(list)
        for t in truth:
            if t["kind"] != "planted":
                continue
            for x in flags.get((t["subject_kind"], t["subject_id"]), []):
                if dq._overlaps(x[0], x[1], t):
                    hits[t["scenario"]].append(f"{x[2]}:{x[3]}")
    engine.dispose()
    res = {"seed": seed, "scale": scale, "movements": report.movements, "generate_s": t_gen,
           "import_s": t_imp, "detect_s": report.seconds,
           "import": {f.name: {k: getattr(f, k) for k in ("read", "accepted", "duplicates", "conflicts",
                                                           "rejected")} for f in rep.files} if rep else None,
           "rejections": [x.as_text() for x in rep.samples()][:10] if rep else None,
           "backfill_realtime": rep.realtime if rep else None,
           "quirks": gen.get("quirks"),
           "errors": [r.name for r in report.errors],
           "all": dq.evaluate(flags, truth), "medium": dq.evaluate(flags_med, truth),
           "lookalikes_high": dq.lookalikes_at(flags, truth, "high"),
           "tied_precision": _tied_precision(flags_med, truth, tied),
           "found_by": dict(hits), "false_medium": false_rows,
           "alerts_by_detector": _count(alerts)}
    return res


def tied_subjects(session, truth: list[dict]) -> dict:
    """Subjects that are not planted subjects but belong to a planted scenario: the prescribers a
    truth row lists, the establishment it names, and the patients whose dispenses a planted or
    listed prescriber signed. Only for a second, clearly labelled precision figure."""
    from sqlalchemy import text

    out: dict = {}
    pros: dict = {}
    for t in truth:
        if t["kind"] != "planted":
            continue
        for p in t.get("prescribers", []):
            out[("professional", p)] = t["scenario"]
            pros[p] = t["scenario"]
        if t.get("establishment"):
            out.setdefault(("establishment", t["establishment"]), t["scenario"])
        if t["subject_kind"] == "professional":
            pros[t["subject_id"]] = t["scenario"]
    for pid, scen in pros.items():
        for (pat,) in session.execute(text(
                "SELECT DISTINCT patient_id FROM movements WHERE event_type = 'dispense' "
                "AND prescriber_id = :p"), {"p": pid}):
            out.setdefault(("patient", pat), scen)
    return out


def _tied_precision(flags: dict, truth: list[dict], tied: dict) -> dict:
    planted = {(t["subject_kind"], t["subject_id"]) for t in truth if t["kind"] == "planted"}
    planted |= {("establishment", e) for t in truth if t["kind"] == "planted"
                for e in t.get("involved_establishments", [])}
    n = len(flags)
    ok = sum(1 for k in flags if k in planted or k in tied)
    return {"subjects": n, "planted_or_tied": ok, "precision": ok / n if n else None,
            "tied_flagged": sorted(f"{k[0]}:{k[1]}<-{tied[k]}" for k in flags
                                   if k in tied and k not in planted)}


def _count(alerts) -> dict:
    out: dict = defaultdict(lambda: [0, 0])
    for a in alerts:
        out[a.detector][0] += 1
        out[a.detector][1] += int(dq.RANK[a.severity] >= 1)
    return {k: {"all": v[0], "medium+": v[1]} for k, v in sorted(out.items())}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def show(r: dict) -> None:
    c, m = r["all"], r["medium"]
    print(f"\n=== foreign world seed {r['seed']} scale {r['scale']}: {r['movements']:,} movements "
          f"(generate {r['generate_s']:.0f} s, import {r['import_s']:.0f} s, detect {r['detect_s']:.0f} s)")
    print(f"import: {r['import']}; detector errors: {r['errors']}")
    if r["rejections"]:
        print("  rejections: " + "; ".join(r["rejections"]))
    print(f"recall {c['found']}/{c['planted']} ({_pct(c['recall'])}) [medium+ {m['found']}/{m['planted']}]; "
          f"precision of flagged subjects (medium+) {_pct(m['precision_subjects'])} of {m['subjects']}; "
          f"alerts all {c['alerts']} / medium+ {m['alerts']}; look-alikes flagged "
          f"{c['lookalikes_flagged']}/{c['lookalikes']} any ({', '.join(c['lookalikes_hit']) or 'none'}) / "
          f"{len(r['lookalikes_high'])} high+ ({', '.join(r['lookalikes_high']) or 'none'})")
    tp = r["tied_precision"]
    print(f"precision (medium+) counting subjects tied to a planted scenario (its patients, listed "
          f"prescribers, named establishment) as true: {_pct(tp['precision'])} "
          f"({tp['planted_or_tied']}/{tp['subjects']})")
    print(f"missed: {', '.join(c['missed']) or 'none'}")
    for k, v in sorted(r["found_by"].items()):
        print(f"  found {k}: {', '.join(sorted(set(v)))}")
    print("alerts by detector (all / medium+): " + ", ".join(
        f"{k} {v['all']}/{v['medium+']}" for k, v in r["alerts_by_detector"].items()))
    print("false subjects (medium+), per detector:")
    by: dict = defaultdict(list)
    for x in r["false_medium"]:
        by[x["detector"]].append(x)
    for det, xs in sorted(by.items()):
        subj = {(x["subject_kind"], x["subject_id"]) for x in xs}
        nt = len({(x["subject_kind"], x["subject_id"]) for x in xs if x["tied"]})
        print(f"  {det}: {len(subj)} subjects ({nt} tied to a planted scenario), {len(xs)} alerts")
        for x in sorted(xs, key=lambda x: -x["score"])[:25]:
            if x["tied"] and x["subject_kind"] == "patient":
                continue
            print(f"    {x['subject_kind']}:{x['subject_id']} {x['severity']} score {x['score']} "
                  f"{x['window']}{' [look-alike ' + x['lookalike'] + ']' if x['lookalike'] else ''}"
                  f"{' [tied ' + x['tied'] + ']' if x['tied'] else ''} "
                  f"— {x['summary'][:160]}")


def main(argv: list[str] | None = None) -> int:
    from centinela.wiring import install

    install()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--reuse", action="store_true", help="reuse generated worlds in --workdir")
    ap.add_argument("--rejudge", action="store_true",
                    help="reuse the worlds AND their imported databases in --workdir: clear the "
                         "alerts and judge again with the current detectors (no import)")
    ap.add_argument("--json", default=None, help="write the full results here")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="centinela-foreign-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in (int(x) for x in args.seeds.split(",")):
        r = run_seed(seed, args.scale, workdir, args.reuse or args.rejudge, args.rejudge)
        results.append(r)
        show(r)
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
