"""The generator writes exactly the reporting format, deterministically, with honest books."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from centinela.generate import generate
from centinela.reference import ubigeo

# An independent reading of the spec (not the generator's own constants).
SPEC = {
    "establishments": ["establishment_id", "name", "kind", "sector", "ubigeo", "ruc",
                       "authorized_controlled", "authorization_expires"],
    "professionals": ["professional_id", "role", "full_name", "specialty", "establishment_id",
                      "ubigeo", "opioid_certified_on", "certificate_id"],
    "products": ["product_code", "name", "substance", "dosage_form", "strength_mg_per_unit",
                 "patch_mcg_per_hour", "units_per_pack"],
    "movements": ["event_id", "event_type", "occurred_at", "establishment_id", "product_code",
                  "quantity", "counterparty_id", "lot", "expiry", "serial", "prescription_id",
                  "prescriber_id", "professional_id", "patient_id", "patient_sex",
                  "patient_birth_year", "patient_ubigeo", "days_supply", "witness_id"],
    "seizures": ["seizure_id", "occurred_at", "ubigeo", "agency", "context", "substance",
                 "smiles", "form", "units", "net_mass_mg", "purity_percent", "product_code",
                 "lot", "serial"],
}
KINDS = {"pharmacy", "drugstore", "hospital", "clinic", "distributor", "importer",
         "manufacturer", "laboratory"}
SIGN = {"import": 1, "receipt": 1, "transfer_in": 1, "transfer_out": -1, "dispense": -1,
        "administer": -1, "waste": -1, "loss": -1, "export": -1}
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-05:00$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PROF_ID = re.compile(r"^(CMP-\d{6}|COP-\d+|CQFP-\d{5}|CEP-\d{6})$")
PATIENT = re.compile(r"^(DNI:\d{8}|CE:\d{9}|PAS:\w+|PSN:[A-Za-z0-9_-]{4,64})$")


def read(folder: Path, table: str) -> list[dict[str, str]]:
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == SPEC[table], table
        return list(reader)


def check_files(folder: Path) -> dict[str, list[dict[str, str]]]:
    """Validate every file against the spec; return the rows."""
    t = {name: read(folder, name) for name in SPEC}
    ests = {r["establishment_id"]: r for r in t["establishments"]}
    assert len(ests) == len(t["establishments"])
    for r in t["establishments"]:
        assert re.fullmatch(r"EST-\d{7}", r["establishment_id"])
        assert r["kind"] in KINDS and r["sector"] in ("public", "private") and r["name"]
        assert ubigeo.is_valid(r["ubigeo"]), r
        assert r["authorized_controlled"] in ("true", "false")
        assert r["ruc"] == "" or re.fullmatch(r"\d{11}", r["ruc"])
        assert r["authorization_expires"] == "" or DATE.match(r["authorization_expires"])
    profs = {r["professional_id"]: r for r in t["professionals"]}
    assert len(profs) == len(t["professionals"])
    for r in t["professionals"]:
        assert PROF_ID.match(r["professional_id"]), r
        assert r["role"] in ("prescriber", "pharmacist", "nurse") and r["full_name"]
        assert r["establishment_id"] in ests
        assert r["opioid_certified_on"] == "" or DATE.match(r["opioid_certified_on"])
        prefix = r["professional_id"].split("-")[0]
        assert {"CMP": "prescriber", "CQFP": "pharmacist", "CEP": "nurse"}[prefix] == r["role"]
    prods = {r["product_code"]: r for r in t["products"]}
    for r in t["products"]:
        assert r["dosage_form"] in ("ampoule", "vial", "patch", "tablet", "lozenge", "spray",
                                    "solution")
        assert r["substance"] == r["substance"].lower() and float(r["strength_mg_per_unit"]) > 0
        assert (r["dosage_form"] == "patch") == (r["patch_mcg_per_hour"] != "")
    ids = set()
    for r in t["movements"]:
        et = r["event_type"]
        assert et in SIGN or et == "count", r
        assert (r["establishment_id"], r["event_id"]) not in ids
        ids.add((r["establishment_id"], r["event_id"]))
        assert TIME.match(r["occurred_at"]), r
        assert r["establishment_id"] in ests and r["product_code"] in prods
        q = float(r["quantity"])
        assert q >= 0 if et == "count" else q > 0, r
        if et not in ("administer", "waste"):
            assert q == int(q), r
        if et in ("receipt", "transfer_in", "transfer_out"):
            assert r["counterparty_id"] in ests, r
        if et == "dispense":
            assert r["prescription_id"] and r["prescriber_id"] in profs, r
            assert 1 <= int(r["days_supply"]) <= 90
        if et in ("dispense", "administer"):
            assert PATIENT.match(r["patient_id"]), r
            assert r["patient_sex"] in ("F", "M", "X")
            assert ubigeo.is_valid(r["patient_ubigeo"])
        for f in ("prescriber_id", "professional_id", "witness_id"):
            assert r[f] == "" or r[f] in profs, (f, r)
        assert r["expiry"] == "" or DATE.match(r["expiry"])
    for r in t["seizures"]:
        assert TIME.match(r["occurred_at"]) and ubigeo.is_valid(r["ubigeo"])
        assert r["agency"] in ("PNP-DIRANDRO", "SUNAT", "DIGEMID")
        assert r["product_code"] == "" or r["product_code"] in prods
    return t


def books(moves: list[dict[str, str]]) -> tuple[int, list, dict]:
    """Replay the movements in time order: negative balances, count mismatches, balances."""
    bal: dict[tuple[str, str], float] = defaultdict(float)
    negative, mismatches = 0, []
    for r in sorted(moves, key=lambda r: (r["occurred_at"], r["event_id"])):
        key = (r["establishment_id"], r["product_code"])
        if r["event_type"] == "count":
            if abs(bal[key] - float(r["quantity"])) > 1e-6:
                mismatches.append((key, r["occurred_at"]))
        else:
            bal[key] += SIGN[r["event_type"]] * float(r["quantity"])
            negative += bal[key] < -1e-6
    return negative, mismatches, bal


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, seed=11, scale=0.03, days=150, scenarios=False)


def test_files_follow_the_spec(clean):
    folder, report = clean
    t = check_files(folder)
    assert report.files["movements"] == len(t["movements"]) > 5000
    kinds = {r["event_type"] for r in t["movements"]}
    assert {"import", "receipt", "transfer_in", "transfer_out", "dispense", "administer",
            "waste", "count"} <= kinds
    assert "SINTÉTICOS" in (folder / "README.txt").read_text(encoding="utf-8")


def test_honest_year_has_consistent_books(clean):
    folder, _ = clean
    moves = read(folder, "movements")
    negative, mismatches, _ = books(moves)
    assert negative == 0
    assert mismatches == []
    outs = {r["event_id"]: r for r in moves if r["event_type"] == "transfer_out"}
    ins = [r for r in moves if r["event_type"] in ("receipt", "transfer_in")]
    last = max(r["occurred_at"] for r in moves)[:10]
    in_transit = dt.date.fromisoformat(last) - dt.timedelta(days=3)
    # every receipt matches a shipment of the same lot and quantity from its counterparty;
    # only shipments of the last three days may still be on the road when the data ends
    sent = defaultdict(float)
    for r in outs.values():
        if r["occurred_at"][:10] > in_transit.isoformat() and not any(
                i["lot"] == r["lot"] and i["establishment_id"] == r["counterparty_id"]
                and i["quantity"] == r["quantity"] for i in ins):
            continue
        sent[(r["establishment_id"], r["counterparty_id"], r["lot"])] += float(r["quantity"])
    got = defaultdict(float)
    for r in ins:
        got[(r["counterparty_id"], r["establishment_id"], r["lot"])] += float(r["quantity"])
    assert sent == got


def test_no_scenarios_means_no_truth(clean):
    folder, report = clean
    assert (folder / "truth.jsonl").read_text() == ""
    assert report.truth == []
    assert all(r["product_code"] == "" for r in read(folder, "seizures"))
    assert "loss" not in report.events or report.events["loss"] <= 10


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, seed=4, scale=0.02, days=45)
    generate(b, seed=4, scale=0.02, days=45)
    generate(c, seed=5, scale=0.02, days=45)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "movements.csv").read_bytes() != (c / "movements.csv").read_bytes()


def test_jsonl_format(tmp_path):
    report = generate(tmp_path, seed=2, scale=0.02, days=30, fmt="jsonl")
    lines = (tmp_path / "movements.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == report.files["movements"] > 0
    rows = [json.loads(x) for x in lines]
    assert all(set(r) <= set(SPEC["movements"]) for r in rows)
    assert all(isinstance(r["quantity"], int | float) for r in rows)
    assert any(isinstance(r.get("days_supply"), int) for r in rows)
    ests = [json.loads(x) for x in (tmp_path / "establishments.jsonl").open()]
    assert all(isinstance(e["authorized_controlled"], bool) for e in ests)


def test_bad_arguments_are_explained(tmp_path):
    with pytest.raises(ValueError, match="format"):
        generate(tmp_path, fmt="xml")
    with pytest.raises(ValueError, match="scale"):
        generate(tmp_path, scale=0)
    with pytest.raises(ValueError, match="days"):
        generate(tmp_path, days=3)


def test_start_is_honoured(tmp_path):
    generate(tmp_path, seed=1, scale=0.02, days=30, start=dt.date(2024, 3, 1))
    times = [r["occurred_at"] for r in read(tmp_path, "movements")]
    assert min(times) >= "2024-03-01" and max(times) < "2024-03-31"
