"""FHIR intake benchmark: a Bundle of N dispenses (default 10,000) through ``import_fhir``.

Generates a synthetic national sample, imports it, exports N dispenses with the Organizations,
Practitioners, Medications, Patients and MedicationRequests they cite as one FHIR Bundle, then
in the same process times, with the real-time rules off in both, (a) the baseline: the same dispenses as a reporting-format CSV through
``import_directory`` and (b) the Bundle through ``import_fhir`` (validation with
fhir.resources, mapping, the one intake path), each into a fresh SQLite file. Prints resources/s
and the ratio FHIR / CSV.

    python3 benchmarks/fhir_import.py [--dispenses 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

from centinela.db import create_schema, make_engine, session_scope
from centinela.generate import generate
from centinela.ingest import fhir
from centinela.ingest.fhir_export import as_bundle, export_resources
from centinela.ingest.fields import SPECS
from centinela.ingest.service import import_directory
from centinela.ledger.records import Movement


def _fresh(folder: Path, name: str):
    eng = make_engine(f"sqlite:///{folder / name}")
    create_schema(eng)
    return eng


def main() -> None:
    from centinela.wiring import install

    install()  # the application start: extension files, real-time rules, EWS detectors
    ap = argparse.ArgumentParser()
    ap.add_argument("--dispenses", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data"
        generate(data, seed=4, scale=0.08)
        src = _fresh(root, "src.db")
        import_directory(src, data, realtime=False)
        with session_scope(src) as s:
            resources = list(export_resources(s, types=("dispense",), limit=args.dispenses))
            from sqlalchemy import select
            moves = list(s.scalars(select(Movement).where(Movement.event_type == "dispense")
                                   .order_by(Movement.occurred_at, Movement.id)
                                   .limit(args.dispenses)))
        payload = json.dumps(as_bundle(iter(resources))).encode()
        n_disp = sum(1 for r in resources if r["resourceType"] == "MedicationDispense")
        # The baseline: the same dispenses as reporting-format files (registry included).
        csv_dir = root / "csv"
        csv_dir.mkdir()
        for stem in ("establishments", "professionals", "products"):
            (csv_dir / f"{stem}.csv").write_bytes((data / f"{stem}.csv").read_bytes())
        with (csv_dir / "movements.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            fields = SPECS["movements"].base_fields
            w.writerow(fields)
            for m in moves:
                row = {f: getattr(m, f, None) for f in fields}
                row["occurred_at"] = m.occurred_at.isoformat() + "+00:00"
                row["expiry"] = m.expiry.isoformat() if m.expiry else ""
                w.writerow(["" if row[f] is None else row[f] for f in fields])
        csv_s, fhir_s = [], []
        for i in range(args.repeat):
            eng = _fresh(root, f"csv{i}.db")
            t = time.perf_counter()
            rep = import_directory(eng, csv_dir, realtime=False)
            csv_s.append(time.perf_counter() - t)
            assert rep.total("rejected") == 0, rep.as_text()
            eng.dispose()
            eng = _fresh(root, f"fhir{i}.db")
            t = time.perf_counter()
            rep = fhir.import_fhir(eng, [("bundle.json", payload)], realtime=False)
            fhir_s.append(time.perf_counter() - t)
            assert rep.total("rejected") == 0 and rep.files[-1].accepted == n_disp, rep.as_text()
            eng.dispose()
    c, f = statistics.median(csv_s), statistics.median(fhir_s)
    print(f"FHIR Bundle: {n_disp:,} MedicationDispense + {len(resources) - n_disp:,} cited "
          f"resources = {len(resources):,} resources, {len(payload) / 1e6:.1f} MB")
    print(f"baseline CSV import of the same dispenses: {c:.2f} s "
          f"({n_disp / c:,.0f} movements/s)")
    print(f"FHIR import: {f:.2f} s = {len(resources) / f:,.0f} resources/s "
          f"({n_disp / f:,.0f} dispenses/s); ratio FHIR / CSV = {f / c:.2f}x "
          f"(median of {args.repeat})")


if __name__ == "__main__":
    main()
