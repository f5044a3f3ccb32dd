"""Planted scenarios are in the truth file, their subjects exist and behave as described."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from centinela.cli import app
from centinela.config import get_settings
from centinela.generate import generate
from centinela.generate.scenarios import LOOKALIKES, PLANTED
from centinela.privacy import pseudonymize
from tests.test_generate_files import books, check_files


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, object, dict]:
    out = tmp_path_factory.mktemp("planted")
    with pytest.MonkeyPatch.context() as mp:  # the same key the per-test settings use
        mp.setenv("CENTINELA_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
        get_settings.cache_clear()
        report = generate(out, seed=7, scale=0.05)
    get_settings.cache_clear()
    truth = [json.loads(x) for x in (out / "truth.jsonl").read_text().splitlines()]
    return out, report, {"truth": truth, "tables": check_files(out)}


def test_every_scenario_kind_is_planted(planted):
    _, report, ctx = planted
    truth = ctx["truth"]
    assert {t["scenario"] for t in truth if t["kind"] == "planted"} == set(PLANTED)
    assert {t["scenario"] for t in truth if t["kind"] == "lookalike"} == set(LOOKALIKES)
    for t in truth:
        assert set(t) >= {"scenario", "kind", "subject_kind", "subject_id", "window_start",
                          "window_end", "expected_detectors", "description"}
        assert t["subject_kind"] in ("professional", "establishment", "patient", "region",
                                     "shipment", "serial", "lot")
        assert t["window_start"] <= t["window_end"] and t["expected_detectors"]
    assert len(report.planted) == sum(t["kind"] == "planted" for t in truth)


def test_truth_subjects_exist_in_the_files(planted, monkeypatch):
    _, _, ctx = planted
    tables = ctx["tables"]
    moves = tables["movements"]
    ests = {r["establishment_id"] for r in tables["establishments"]}
    profs = {r["professional_id"] for r in tables["professionals"]}
    used_profs = {r[f] for r in moves for f in ("prescriber_id", "professional_id", "witness_id")}
    patients = {r["patient_id"] for r in moves}
    serials = {r["serial"] for r in moves} | {r["serial"] for r in tables["seizures"]}
    lots = {r["lot"] for r in moves}
    seized_lots = {r["lot"] for r in tables["seizures"]}
    outs = {r["event_id"] for r in moves if r["event_type"] == "transfer_out"}
    for t in ctx["truth"]:
        sid, kind = t["subject_id"], t["subject_kind"]
        if kind == "professional":
            assert sid in profs and sid in used_profs, t
        elif kind == "establishment":
            assert sid in ests, t
        elif kind == "patient":
            assert sid == pseudonymize(t["patient_ref"]), t  # the configured key
            assert t["patient_ref"] in patients, t
        elif kind == "region":
            assert len(sid) == 2 and sid.isdigit()
        elif kind == "shipment":
            assert sid in outs, t
        elif kind == "serial":
            assert sid in serials, t
        elif kind == "lot":
            assert sid in lots and sid in seized_lots, t


def _by(truth: list[dict], name: str) -> dict:
    return next(t for t in truth if t["scenario"] == name)


def test_planted_behaviours_show_in_the_data(planted):
    _, _, ctx = planted
    truth, tables = ctx["truth"], ctx["tables"]
    moves = tables["movements"]
    # a shipment never received
    lost = _by(truth, "shipment_not_received")["subject_id"]
    out = next(r for r in moves if r["event_id"] == lost)
    assert not [r for r in moves if r["event_type"] == "receipt"
                and r["establishment_id"] == out["counterparty_id"] and r["lot"] == out["lot"]
                and r["occurred_at"] >= out["occurred_at"]
                and r["counterparty_id"] == out["establishment_id"]
                and r["quantity"] == out["quantity"]]
    # a serial administered at two establishments
    serial = _by(truth, "serial_duplicate")["subject_id"]
    assert len({r["establishment_id"] for r in moves if r["serial"] == serial
                and r["event_type"] == "administer"}) == 2
    # shrinkage shows as counts below the books; falsified counts of the order inflator do not
    negative, mismatches, _ = books(moves)
    assert negative == 0
    shrink = _by(truth, "inventory_shrinkage")["subject_id"]
    assert mismatches and {k[0] for k, _ in mismatches} == {shrink}
    # the doctor shopper meets the multiple-provider definition
    shop = _by(truth, "doctor_shopping")
    rows = [r for r in moves if r["patient_id"] == shop["patient_ref"]]
    assert len({r["prescriber_id"] for r in rows}) >= 5
    assert len({r["establishment_id"] for r in rows}) >= 5
    # self-witnessed waste
    nurse = _by(truth, "self_witnessed_waste")["subject_id"]
    assert sum(r["witness_id"] == nurse for r in moves if r["professional_id"] == nurse) >= 3
    # repeated losses
    loser = _by(truth, "repeated_loss")["subject_id"]
    assert sum(r["event_type"] == "loss" and r["establishment_id"] == loser for r in moves) >= 3
    # an unauthorized botica receives fentanyl
    botica = _by(truth, "unauthorized_receipt")["subject_id"]
    est = next(r for r in tables["establishments"] if r["establishment_id"] == botica)
    assert est["authorized_controlled"] == "false"
    assert any(r["event_type"] == "receipt" and r["establishment_id"] == botica for r in moves)
    # receipts after the licence expired
    lapsed = _by(truth, "expired_licence_receipt")
    assert any(r["event_type"] == "receipt" and r["establishment_id"] == lapsed["subject_id"]
               and r["occurred_at"][:10] >= lapsed["window_start"] for r in moves)


def test_waste_diverter_stands_out_and_busy_nurse_does_not(planted):
    _, _, ctx = planted
    truth, moves = ctx["truth"], ctx["tables"]["movements"]
    handled: dict[str, float] = defaultdict(float)
    wasted: dict[str, float] = defaultdict(float)
    for r in moves:
        if r["event_type"] in ("administer", "waste") and r["professional_id"].startswith("CEP"):
            handled[r["professional_id"]] += float(r["quantity"])
            if r["event_type"] == "waste":
                wasted[r["professional_id"]] += float(r["quantity"])
    share = {n: wasted[n] / v for n, v in handled.items() if v >= 20}
    diverter = _by(truth, "waste_diversion")["subject_id"]
    busy = _by(truth, "icu_nurse_high_volume")["subject_id"]
    typical = sorted(share.values())[len(share) // 2]
    assert share[diverter] > 1.3 * typical
    assert share[busy] < 1.3 * typical


def test_uncertified_handlers_lack_a_valid_certificate(planted):
    _, _, ctx = planted
    profs = {r["professional_id"]: r for r in ctx["tables"]["professionals"]}
    for t in ctx["truth"]:
        if t["scenario"] == "uncertified_handler":
            cert = profs[t["subject_id"]]["opioid_certified_on"]
            assert cert == "" or cert < "2025-01-01"
            fentanyl_after = [r for r in ctx["tables"]["movements"]
                              if t["subject_id"] in (r["prescriber_id"], r["professional_id"])
                              and r["occurred_at"] >= "2026-01-01"]
            assert fentanyl_after, t


def test_small_scale_is_sized(planted):
    _, report, _ = planted
    counts = Counter(report.events)
    assert 30_000 < sum(counts.values()) < 120_000
    assert counts["administer"] > counts["dispense"] > counts["count"] > 0


def test_cli_generate(tmp_path):
    result = CliRunner().invoke(app, ["generate", str(tmp_path / "d"), "--seed", "3",
                                      "--scale", "0.02", "--days", "40", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["files"]["movements"] > 1000 and summary["seed"] == 3
    assert (tmp_path / "d" / "truth.jsonl").exists()
    bad = CliRunner().invoke(app, ["generate", str(tmp_path / "e"), "--format", "xml"])
    assert bad.exit_code != 0 and "format" in bad.output


def test_seizure_structures_are_real_molecules(planted):
    from rdkit import Chem

    smiles = {r["smiles"] for r in planted[2]["tables"]["seizures"] if r["smiles"]}
    from centinela.generate.catalog import SEIZED_SUBSTANCES

    for _name, smi, _form in SEIZED_SUBSTANCES:
        assert Chem.MolFromSmiles(smi) is not None, smi
    assert all(Chem.MolFromSmiles(s) is not None for s in smiles)


MILL_ROWS = ("prescription_mill", "oncology_pharmacy", "discharge_pharmacy", "tourist_pharmacy")


def test_prescription_mill_and_its_look_alikes_show_in_the_data(planted):
    """The mill fills one-off prescriptions of its named prescribers in fixed quantities; the
    cancer-institute pharmacy's patients come back; the discharge pharmacy's supplies are short;
    the tourist pharmacy's visitors fill at home before and after (books stay exact: checked
    with every other scenario above)."""
    _, _, ctx = planted
    truth, moves = ctx["truth"], ctx["tables"]["movements"]
    mill = _by(truth, "prescription_mill")
    names = set(mill["involved_professionals"])
    assert 1 <= len(names) <= 3 and mill["expected_detectors"] == ["pharmacy_patient_mix"]
    rows = [r for r in moves if r["establishment_id"] == mill["subject_id"]
            and r["event_type"] == "dispense" and r["prescriber_id"] in names]
    assert len(rows) == mill["patients"] >= 10
    assert all(r["event_id"].startswith("MX-") for r in rows)
    by_patient = Counter(r["patient_id"] for r in moves if r["event_type"] == "dispense"
                         and r["patient_id"] in {x["patient_id"] for x in rows})
    assert set(by_patient.values()) == {1}  # one fill each, nowhere else
    quantities = defaultdict(set)
    for r in rows:
        quantities[(r["prescriber_id"], r["product_code"])].add(r["quantity"])
    assert all(len(q) == 1 for q in quantities.values())  # identical prescriptions
    assert all(r["window_start"] >= "2025-07-01" for r in truth if r["scenario"] in MILL_ROWS)
    onco = _by(truth, "oncology_pharmacy")["subject_id"]
    pats = Counter(r["patient_id"] for r in moves
                   if r["establishment_id"] == onco and r["event_id"].startswith("MX-")
                   and r["event_type"] == "dispense")
    assert sum(n > 1 for n in pats.values()) > len(pats) / 2
    dis = _by(truth, "discharge_pharmacy")["subject_id"]
    short = [r for r in moves if r["establishment_id"] == dis and r["event_id"].startswith("MX-")
             and r["event_type"] == "dispense"]
    assert short and all(int(r["days_supply"]) <= 7 for r in short)
    tour = _by(truth, "tourist_pharmacy")["subject_id"]
    visitors = {r["patient_id"] for r in moves if r["establishment_id"] == tour
                and r["event_id"].startswith("MX-") and r["event_type"] == "dispense"}
    elsewhere = Counter(r["patient_id"] for r in moves if r["patient_id"] in visitors
                        and r["establishment_id"] != tour)
    assert visitors and all(elsewhere[v] >= 1 for v in visitors)


def test_mill_scenarios_leave_every_other_scenario_unchanged(planted, tmp_path, monkeypatch):
    """Planted from a stream of their own and written beside the simulation: without them the
    simulation's rows and every other truth row are byte for byte the same."""
    from centinela.generate import plant_mill

    out, _, ctx = planted
    monkeypatch.setattr(plant_mill, "plan", lambda p, rng: None)
    monkeypatch.setenv("CENTINELA_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    get_settings.cache_clear()
    generate(tmp_path, seed=7, scale=0.05)
    get_settings.cache_clear()
    with_mill = [x for x in (out / "movements.csv").read_text().splitlines()
                 if not x.startswith("MX-")]
    assert with_mill == (tmp_path / "movements.csv").read_text().splitlines()
    without = [json.loads(x) for x in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert [t for t in ctx["truth"] if t["scenario"] not in MILL_ROWS] == without
