"""Controlled psychotropics in the synthetic world (``centinela generate --psychotropics``).

A pass over the files the simulation wrote: it adds benzodiazepine and other special-
prescription products, their supply (importer → distributor → pharmacy, a month ahead of need)
and their dispensations — co-prescribed to some opioid patients, more often in palliative care
and oncology, from the same prescriber as a rule; prescribed alone to other patients — plus
planted scenarios and look-alikes in ``truth.jsonl``:

* ``coprescribing_prescriber`` (planted): a general practitioner who adds a benzodiazepine to
  most of their opioid patients;
* ``opioid_benzodiazepine_overlap`` (planted): patients on ≥ 50 MME/day of opioid who obtain a
  benzodiazepine for months from another prescriber at another pharmacy;
* ``palliative_coprescribing`` (look-alike): palliative-care prescribers whose co-prescribing is
  as high as their peers'.

Everything here is synthetic; rates are illustrative, not Peruvian statistics.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections import defaultdict
from pathlib import Path

from centinela.config import get_settings
from centinela.privacy import pseudonymize

PRODUCTS = (
    ("EE-07101", "Clonazepam 2 mg tableta", "clonazepam", "tablet", "2", "", "30"),
    ("EE-07102", "Alprazolam 0.5 mg tableta", "alprazolam", "tablet", "0.5", "", "30"),
    ("EE-07103", "Diazepam 10 mg tableta", "diazepam", "tablet", "10", "", "20"),
    ("EE-07104", "Zolpidem 10 mg tableta", "zolpidem", "tablet", "10", "", "30"),
    ("EE-07201", "Metilfenidato 10 mg tableta", "methylphenidate", "tablet", "10", "", "30"),
    ("EE-07301", "Fenobarbital 100 mg tableta", "phenobarbital", "tablet", "100", "", "30"),
)
BENZOS = ("EE-07101", "EE-07102", "EE-07103", "EE-07104")
CO_RATE = {"palliative_care": 0.35, "oncology": 0.2}
CO_RATE_DEFAULT = 0.05
RETAIL = ("pharmacy", "drugstore")


def _read(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def _append(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("a", encoding="utf-8", newline="") as fh:
        if path.suffix == ".csv":
            w = csv.writer(fh, lineterminator="\n")
            for r in rows:
                w.writerow([r.get(f, "") for f in fields])
        else:
            for r in rows:
                fh.write(json.dumps({f: r[f] for f in fields if r.get(f, "") != ""},
                                    ensure_ascii=False) + "\n")


def _fields(path: Path) -> list[str]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            return next(csv.reader(fh))
    from centinela.generate.writer import FIELDS

    return list(FIELDS[path.stem])


def add_psychotropics(out: Path, seed: int, fmt: str = "csv") -> dict:
    """Append the psychotropic layer to a generated folder; return counts and truth rows."""
    ext = "csv" if fmt == "csv" else "jsonl"
    rng = random.Random(seed * 104729 + 17)
    key = get_settings().pseudonym_key
    ests = {e["establishment_id"]: e for e in _read(out / f"establishments.{ext}")}
    pros = {p["professional_id"]: p for p in _read(out / f"professionals.{ext}")}
    mpath = out / f"movements.{ext}"
    moves = _read(mpath)
    fields = _fields(mpath)
    _append(out / f"products.{ext}", _fields(out / f"products.{ext}"), [
        dict(zip(("product_code", "name", "substance", "dosage_form", "strength_mg_per_unit",
                  "patch_mcg_per_hour", "units_per_pack"), p, strict=True)) for p in PRODUCTS])
    used_docs = {m["patient_id"] for m in moves if m.get("patient_id")}
    retail = sorted(e for e, r in ests.items() if r["kind"] in RETAIL)
    distributors = sorted(e for e, r in ests.items() if r["kind"] == "distributor")
    importers = sorted(e for e, r in ests.items() if r["kind"] == "importer")
    if not (retail and distributors and importers):
        return {"movements": 0, "truth": []}
    # Opioid courses of each patient: (prescriber, pharmacy, first day, days, demographics).
    courses: dict[str, list[dict]] = defaultdict(list)
    for m in moves:
        if m["event_type"] == "dispense" and m.get("patient_id") and m.get("prescriber_id"):
            courses[m["patient_id"]].append(m)
    end = max(dt.datetime.fromisoformat(m["occurred_at"]) for m in moves)
    new: list[dict] = []
    seq = [0]

    def dispense(base: dict, product: str, when: dt.datetime, qty: int, days: int,
                 prescriber: str, pharmacy: str) -> None:
        if when > end:
            return
        seq[0] += 1
        new.append({
            "event_id": f"PS-{seq[0]:08d}", "event_type": "dispense",
            "occurred_at": when.isoformat(), "establishment_id": pharmacy,
            "product_code": product, "quantity": str(qty),
            "prescription_id": f"RP-{seq[0]:08d}", "prescriber_id": prescriber,
            "professional_id": "", "patient_id": base["patient_id"],
            "patient_sex": base.get("patient_sex", ""),
            "patient_birth_year": base.get("patient_birth_year", ""),
            "patient_ubigeo": base.get("patient_ubigeo", ""), "days_supply": str(days)})

    def benzo_course(base: dict, start: dt.datetime, months: int, prescriber: str,
                     pharmacy: str, product: str | None = None) -> None:
        product = product or rng.choice(BENZOS)
        for k in range(months):
            when = start + dt.timedelta(days=30 * k, hours=rng.randint(0, 6))
            dispense(base, product, when, 30, 30, prescriber, pharmacy)

    truth: list[dict] = []
    general = sorted(p for p, r in pros.items() if r["role"] == "prescriber"
                     and r.get("specialty") == "general_medicine")
    by_prescriber: dict[str, list[str]] = defaultdict(list)
    for psn, fills in courses.items():
        by_prescriber[fills[0]["prescriber_id"]].append(psn)
    planted_gp = max((p for p in general if len(by_prescriber.get(p, [])) >= 12),
                     key=lambda p: len(by_prescriber[p]), default=None)
    for _psn, fills in sorted(courses.items()):
        first = fills[0]
        pres = first["prescriber_id"]
        spec = pros.get(pres, {}).get("specialty", "")
        rate = 0.7 if pres == planted_gp else CO_RATE.get(spec, CO_RATE_DEFAULT)
        if rng.random() < rate:
            start = dt.datetime.fromisoformat(first["occurred_at"]) + dt.timedelta(days=2)
            benzo_course(first, start, min(len(fills), 3), pres, first["establishment_id"])
    if planted_gp:
        truth.append({"kind": "planted", "scenario": "coprescribing_prescriber",
                      "subject_kind": "professional", "subject_id": planted_gp,
                      "detector": "coprescribing_prescriber"})
    # Patients on high doses who get a benzodiazepine elsewhere, for months.
    heavy = [psn for psn, fills in sorted(courses.items()) if len(fills) >= 4
             and fills[0]["prescriber_id"] != planted_gp]
    rng.shuffle(heavy)
    others = [p for p in general if p != planted_gp]
    for psn in heavy[:3]:
        fills = courses[psn]
        other_pres = rng.choice([p for p in others if p != fills[0]["prescriber_id"]] or others)
        other_pharm = rng.choice([e for e in retail if e != fills[0]["establishment_id"]])
        start = dt.datetime.fromisoformat(fills[1]["occurred_at"]) + dt.timedelta(days=3)
        benzo_course(fills[0], start, 4, other_pres, other_pharm, "EE-07102")
        truth.append({"kind": "planted", "scenario": "opioid_benzodiazepine_overlap",
                      "subject_kind": "patient",
                      "subject_id": fills[0]["patient_id"] if fills[0]["patient_id"].startswith(
                          "PSN:") else pseudonymize(fills[0]["patient_id"], key=key),
                      "detector": "opioid_benzodiazepine_overlap"})
    palliative = sorted(p for p, r in pros.items() if r.get("specialty") == "palliative_care"
                        and len(by_prescriber.get(p, [])) >= 10)
    if palliative:
        truth.append({"kind": "lookalike", "scenario": "palliative_coprescribing",
                      "subject_kind": "professional", "subject_id": palliative[0],
                      "detector": "coprescribing_prescriber"})
    # Patients on a benzodiazepine, methylphenidate or phenobarbital alone.
    n_alone = max(20, len(courses) // 2)
    start_day = min(dt.datetime.fromisoformat(m["occurred_at"]) for m in moves)
    prescribers = sorted(p for p, r in pros.items() if r["role"] == "prescriber")
    for _ in range(n_alone):
        doc = f"DNI:{rng.randint(10_000_000, 99_999_999)}"
        while doc in used_docs:
            doc = f"DNI:{rng.randint(10_000_000, 99_999_999)}"
        used_docs.add(doc)
        base = {"patient_id": doc, "patient_sex": rng.choice("FM"),
                "patient_birth_year": str(rng.randint(1940, 2005)), "patient_ubigeo": ""}
        when = start_day + dt.timedelta(days=rng.randint(0, 300), hours=rng.randint(9, 19))
        product = rng.choice((*BENZOS, "EE-07201", "EE-07301"))
        benzo_course(base, when, rng.randint(1, 6), rng.choice(prescribers), rng.choice(retail),
                     product)
    new.sort(key=lambda r: r["occurred_at"])
    new = _supply(new, rng, distributors, importers) + new
    new.sort(key=lambda r: r["occurred_at"])
    _append(mpath, fields, new)
    if truth:
        with (out / "truth.jsonl").open("a", encoding="utf-8") as fh:
            for row in truth:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {"movements": len(new), "truth": truth}


def _supply(dispenses: list[dict], rng: random.Random, distributors: list[str],
            importers: list[str]) -> list[dict]:
    """Receipts that keep each pharmacy ahead of its need, and the chain behind them."""
    need: dict[tuple[str, str, str], int] = defaultdict(int)  # (pharmacy, product, month)
    first_day: dict[tuple[str, str, str], dt.datetime] = {}
    for d in dispenses:
        when = dt.datetime.fromisoformat(d["occurred_at"])
        k = (d["establishment_id"], d["product_code"], when.strftime("%Y-%m"))
        need[k] += int(d["quantity"])
        first_day[k] = min(first_day.get(k, when), when)
    out: list[dict] = []
    importer, n = importers[0], 0
    dist_of: dict[str, str] = {}
    for (pharm, prod, _month), qty in sorted(need.items()):
        dist = dist_of.setdefault(pharm, rng.choice(distributors))
        when = first_day[(pharm, prod, _month)].replace(day=1, hour=8, minute=0, second=0) \
            - dt.timedelta(days=3)
        units = int(qty * 1.1) + 30
        for etype, est, cp, at in (("import", importer, "FOREIGN-SUPPLIER", when
                                    - dt.timedelta(days=4)),
                                   ("transfer_out", importer, dist, when - dt.timedelta(days=3)),
                                   ("receipt", dist, importer, when - dt.timedelta(days=2)),
                                   ("transfer_out", dist, pharm, when - dt.timedelta(hours=6)),
                                   ("receipt", pharm, dist, when)):
            n += 1
            out.append({"event_id": f"PSS-{n:08d}", "event_type": etype,
                        "occurred_at": at.isoformat(), "establishment_id": est,
                        "product_code": prod, "quantity": str(units),
                        "counterparty_id": cp if etype != "import" else ""})
    return out
