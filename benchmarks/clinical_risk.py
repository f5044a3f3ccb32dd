"""Clinical risk score validation on the synthetic generator (labelled as synthetic).

For several seeds: generate a year with psychotropics (``--psychotropics``), import it, and score
every patient with a dispensation as a clinician would see them at their last visit (the day
after their last dispensation). Positives are the planted patient scenarios of ``truth.jsonl``
(doctor shopping, high MME, uncoordinated opioid + benzodiazepine). Prints ROC AUC of the risk
score and of two baselines (current MME alone, prescribers in 90 days alone), and the share of
planted patients per risk band (calibration).

    python3 benchmarks/clinical_risk.py [--seeds 1 2 3] [--scale 0.05]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from sklearn.metrics import roc_auc_score
from sqlalchemy import func, select

from centinela.db import create_schema, make_engine, session_scope
from centinela.generate import generate
from centinela.ingest.service import import_directory
from centinela.ledger.patients import clinical_report
from centinela.ledger.records import Movement

PATIENT_SCENARIOS = ("doctor_shopping", "high_mme", "opioid_benzodiazepine_overlap")


def score_seed(seed: int, scale: float, root: Path) -> list[tuple[int, int, float, int, str]]:
    data = root / f"data{seed}"
    generate(data, seed=seed, scale=scale, psychotropics=True)
    truth = [json.loads(x) for x in (data / "truth.jsonl").read_text().splitlines()]
    positives = {t["subject_id"] for t in truth
                 if t["kind"] == "planted" and t["scenario"] in PATIENT_SCENARIOS}
    eng = make_engine(f"sqlite:///{root / f'db{seed}.db'}")
    create_schema(eng)
    import_directory(eng, data, realtime=False)
    rows = []
    with session_scope(eng) as s:
        last = s.execute(select(Movement.patient_id, func.max(Movement.occurred_at))
                         .where(Movement.event_type == "dispense",
                                Movement.patient_id.is_not(None))
                         .group_by(Movement.patient_id)).all()
        for psn, when in last:
            r = clinical_report(s, psn, when + dt.timedelta(days=1))
            rows.append((seed, int(psn in positives), r.risk_score, round(r.current_mme),
                         r.prescribers_90, r.risk_band))
    eng.dispose()
    return rows


def main() -> None:
    from centinela.wiring import install

    install()  # the application start: extension files, real-time rules, EWS detectors
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--scale", type=float, default=0.05)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows: list = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            rows += score_seed(seed, args.scale, Path(tmp))
    y = [r[1] for r in rows]
    print(f"SYNTHETIC: {len(rows):,} patients over seeds {args.seeds} at scale {args.scale}, "
          f"{sum(y)} planted high-risk patients ({time.perf_counter() - t0:.0f} s)")
    for name, col in (("risk score", 2), ("current MME alone", 3), ("prescribers 90 d alone", 4)):
        print(f"  ROC AUC {name:<24} {roc_auc_score(y, [r[col] for r in rows]):.3f}")
    for seed in args.seeds:
        ys = [r[1] for r in rows if r[0] == seed]
        if 0 < sum(ys) < len(ys):
            auc = roc_auc_score(ys, [r[2] for r in rows if r[0] == seed])
            print(f"    seed {seed}: AUC {auc:.3f} ({sum(ys)} planted of {len(ys):,})")
    bands = Counter(r[5] for r in rows)
    planted = Counter(r[5] for r in rows if r[1])
    print("  calibration (share of planted high-risk patients per band):")
    for band in ("low", "moderate", "high"):
        n = bands.get(band, 0)
        print(f"    {band:<9} {n:>7,} patients, {planted.get(band, 0):>3} planted "
              f"({100 * planted.get(band, 0) / n if n else 0:.2f} %)")


if __name__ == "__main__":
    main()
