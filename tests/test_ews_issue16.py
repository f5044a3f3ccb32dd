"""Issue 16: a real laboratory feed never breaks the early warning, mixtures keep their opioid,
new families are seen, the CLI classifies files, tips are not confirmations, exports carry the
EU EWS / UNODC EWA fields with keyed ids. Real app, real database, real CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from centinela.accounts.models import User
from centinela.accounts.tokens import create_token
from centinela.alerts.models import Alert
from centinela.cli import app as cli_app
from centinela.db import session_scope
from centinela.ews import detectors as ews_detectors
from centinela.ews.classify import classify, classify_lines
from centinela.ews.detect import DetectConfig
from centinela.ews.export import export_incidents, incident_id
from centinela.ews.intake import sync_seizures
from centinela.ews.models import Signal
from centinela.ews.scan import ScanParams
from centinela.ews.signals import record_signal
from centinela.ledger.records import Rejection, Seizure
from centinela.web.app import create_app

FENTANYL = "CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
FENTANYL_KEY = "PJMPHNIQZUBGLI-UHFFFAOYSA-N"
NOSCAPINE = "COc1ccc2c(c1OC)C(=O)O[C@@H]2[C@@H]1N(C)CCc2cc3c(c(OC)c21)OCO3"
HEROIN = ("CC(=O)O[C@H]1C=C[C@H]2[C@H]3CC4=C5[C@]2([C@H]1OC5=C(C=C4)OC(C)=O)CCN3C")
ACETYLFENTANYL = "CC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
LONG = "C" * 3000
runner = CliRunner()


# --- 1. one bad record never stops the early warning -------------------------------------------

@pytest.mark.parametrize("bad", ["*C", "[*]c1ccccc1", LONG, "C1CC(", "CC" + "C(C)" * 400])
def test_bad_structures_are_items_with_errors_in_both_languages(bad):
    d = classify(bad).as_dict()
    assert d["error"] and d["error_es"] and d["family"] == "none"
    assert d["error"] != d["error_es"] or "SMILES" in d["error"]


def test_cli_never_shows_a_traceback(db_url, tmp_path):
    r = runner.invoke(cli_app, ["ews", "classify", "*C"])
    assert r.exit_code == 2 and "comodín" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli_app, ["ews", "classify", "C" * 1500, "--json"])
    assert r.exit_code == 2 and "too large" in json.loads(r.output)["error"]
    f = tmp_path / "lab.txt"
    f.write_text(f"fentanilo\n*C\n{LONG}\n\n# comment\n{FENTANYL}.{NOSCAPINE}\npolvo blanco\n",
                 encoding="utf-8")
    r = runner.invoke(cli_app, ["ews", "classify", "--file", str(f), "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert [x["line"] for x in lines] == [1, 2, 3, 6, 7]
    assert [bool(x["error"]) for x in lines] == [False, True, True, False, True]
    assert lines[3]["family"] == "fentanyl" and lines[0]["name_es"] == "fentanilo"


def test_worker_processes_give_the_same_answers():
    lines = [FENTANYL, "*C", "morphine", f"{FENTANYL}.Cl", "buprenorfina", "AH-7921"] * 60
    one = [r for _, r in classify_lines(lines)]
    two = [r for _, r in classify_lines(lines, processes=2, chunk=50)]
    assert [(r["family"], r["error"]) for r in one] == [(r["family"], r["error"]) for r in two]


@pytest.fixture
def web(engine, now):
    with session_scope(engine) as s:
        s.add(User(username="ana", password_hash="x", role="national_analyst", departments=[],
                   created_at=now))
        lab = User(username="lab-inacal", password_hash="x", role="institution", departments=[],
                   created_at=now)
        s.add(lab)
        s.flush()
        plain, _ = create_token(s, lab, "lims", ["ews:classify"], now=now)
    app = create_app(engine)
    app.state.clock = lambda: now
    return TestClient(app), {"Authorization": f"Bearer {plain}"}


def test_api_batch_returns_per_item_errors_and_lab_tokens_may_classify(web):
    client, auth = web
    r = client.post("/api/v1/ews/classify", headers=auth, json={"query": "*C"})
    assert r.status_code == 200 and r.json()["error_es"]
    r = client.post("/api/v1/ews/classify", headers=auth, json={"query": "C" * 1500})
    assert r.status_code == 200 and "too large" in r.json()["error"]
    r = client.post("/api/v1/ews/classify", headers=auth,
                    json={"queries": ["fentanyl", "*C", "C" * 3000, "MT-45"]})
    assert r.status_code == 200
    out = r.json()
    assert out["errors"] == 2 and [x["family"] for x in out["results"]] == [
        "fentanyl", "none", "none", "other_opioid"]
    assert client.get("/api/v1/ews/signals", headers=auth).status_code == 403


def test_intake_rejects_unusable_structures_with_the_reason(web, engine):
    client, auth = web
    base = {"occurred_at": "2025-12-20T10:00:00-05:00", "ubigeo": "150101", "agency": "PNP"}
    records = [{**base, "seizure_id": "Z1", "smiles": "*C"},
               {**base, "seizure_id": "Z2", "smiles": LONG[:1900]},
               {**base, "seizure_id": "Z3", "smiles": f"{FENTANYL}.{NOSCAPINE}",
                "substance": "polvo blanco"}]
    r = client.post("/api/v1/seizures", headers=auth, json={"records": records})
    assert r.status_code == 200, r.text
    with session_scope(engine) as s:
        reasons = {x.record_key: x.reason for x in s.scalars(select(Rejection))}
        assert set(s.scalars(select(Seizure.seizure_id))) == {"Z3"}
    assert "comodín" in reasons["Z1"] and "wildcard" in reasons["Z1"]
    assert "demasiado grande" in reasons["Z2"]


def test_stored_bad_rows_never_stop_sync_or_detect(db_url, engine, now):
    with session_scope(engine) as s:
        for i, smi in enumerate(["*C", LONG, "C1CC(", f"{FENTANYL}.{NOSCAPINE}"]):
            s.add(Seizure(seizure_id=f"B{i}", occurred_at=now - dt.timedelta(days=2),
                          ubigeo="150101", agency="PNP", smiles=smi, substance="polvo blanco",
                          content_hash=f"h{i}"))
    with session_scope(engine) as s:
        counts = sync_seizures(s)
        assert counts["new"] == 4 and counts["errors"] == 3
        good = s.scalar(select(Signal).where(Signal.source_id == "B3"))
        assert good.inchikey == FENTANYL_KEY  # the opioid, not the larger noscapine
        assert good.payload["family"] == "fentanyl" and len(good.payload["components"]) == 2
    when = (now + dt.timedelta(hours=1)).isoformat()
    for args in (["ews", "sync", "--json"], ["ews", "detect", "--now", when, "--sims", "19"]):
        r = runner.invoke(cli_app, args)
        assert r.exit_code == 0, r.output


# --- 2. mixtures keep their opioid -------------------------------------------------------------

def test_mixture_takes_the_most_serious_component():
    d = classify(f"{FENTANYL}.{NOSCAPINE}").as_dict()
    assert d["family"] == "fentanyl" and d["controlled"] and d["name_es"] == "fentanilo"
    assert {c["family"] for c in d["components"]} == {"fentanyl", "none"}
    for q in (f"{ACETYLFENTANYL}.{HEROIN}", f"{HEROIN}.{ACETYLFENTANYL}"):
        assert classify(q).as_dict()["registry_id"] == "acetylfentanyl"
    salt = classify(f"{FENTANYL}.OC(=O)CC(O)(CC(=O)O)C(=O)O").as_dict()
    roles = {c["role"]: c for c in salt["components"]}
    assert roles["counter_ion"]["counter_ion"] == "citrate" and salt["family"] == "fentanyl"


def test_isotopologues_and_derivatives():
    d5 = classify("CCC(=O)N(c1ccccc1)C1CCN(CCc2c([2H])c([2H])c([2H])c([2H])c2[2H])CC1").as_dict()
    assert d5["family"] == "fentanyl" and d5["parent"] == "fentanyl" and not d5["review"]
    assert d5["formula"] == "C22H23D5N2O"
    for q in ("CCC(=O)N(c1ccccc1)C1CC[N+]([O-])(CCc2ccccc2)CC1",
              "CCC(=O)N(c1ccccc1)C1CC[N+](C)(CCc2ccccc2)CC1.[I-]"):
        d = classify(q).as_dict()
        assert d["family"] == "fentanyl" and d["review"] and d["parent"] == "fentanyl"
        assert d["category"] == "opioid_derivative" and d["controlled"] is None


# --- 3. families beyond fentanyl and nitazenes -------------------------------------------------

@pytest.mark.parametrize("name,subfamily", [
    ("buprenorphine", "morphinan"), ("hydromorphone", "morphinan"), ("hydrocodone", "morphinan"),
    ("tapentadol", "tramadol_type"), ("AH-7921", "benzamide"), ("MT-45", "piperazine_mt45"),
    ("2-methyl-AP-237", "acylpiperazine"), ("pethidine", "phenylpiperidine"),
    ("methadone", "diphenylpropylamine"), ("brorphine", "benzimidazolone"),
    ("etodesnitazene", "nitazene"), ("etonitazepipne", "nitazene"),
])
def test_issue_families_are_seen_with_their_rule(name, subfamily):
    d = classify(name).as_dict()
    assert d["family"] in ("other_opioid", "nitazene") and d["subfamily"] == subfamily
    # and the same answer from the structure alone, stripped of the registry
    from rdkit import Chem

    from centinela.ews.families import family_rule
    from centinela.ews.registry import registry

    mol = Chem.MolFromSmiles(registry().lookup_name(name).smiles)
    assert family_rule(mol).id == subfamily


# --- 4. tips are not confirmations; names in Spanish; new analogues named by structure ----------

def test_citizen_tip_does_not_raise_a_first_appearance(session, now):
    cfg = DetectConfig(scan=ScanParams(n_sims=19))
    record_signal(session, "seizure", "L1", now - dt.timedelta(days=120), ubigeo="150101",
                  substance="fentanyl", inchikey=FENTANYL_KEY,
                  payload={"identified_by": "structure", "category": "fentanyl"})
    record_signal(session, "citizen", "T1", now - dt.timedelta(days=1), ubigeo="080101",
                  substance="fentanyl")
    # a tip of a substance never confirmed: only the lower-confidence signal
    record_signal(session, "citizen", "T2", now - dt.timedelta(days=1), ubigeo="080101",
                  substance="carfentanil")
    ews_detectors.run(session, now, cfg, only=("ews_first",))
    alerts = list(session.scalars(select(Alert)))
    assert not [a for a in alerts if a.detector in ("ews_first_national", "ews_first_department")]
    reported = [a for a in alerts if a.detector == "ews_first_reported"]
    assert len(reported) == 1 and "carfentanilo" in reported[0].summary
    assert reported[0].severity in ("low", "medium") and "sin confirmar" in reported[0].summary


def test_new_analogue_alert_is_named_after_the_structure(session, now):
    seizure = Seizure(seizure_id="N1", occurred_at=now - dt.timedelta(days=1), ubigeo="150101",
                      agency="PNP", substance="polvo blanco", content_hash="n1",
                      smiles="CCN(CC)CCn1c(Cc2ccc(OCCC(F)(F)F)cc2)nc2cc([N+](=O)[O-])ccc21")
    session.add(seizure)
    session.flush()
    sync_seizures(session)
    ews_detectors.run(session, now, DetectConfig(scan=ScanParams(n_sims=19)), only=("ews_first",))
    first = session.scalar(select(Alert).where(Alert.detector == "ews_first_national"))
    assert "polvo blanco" not in first.summary and "nitaceno" in first.summary
    assert "C" in first.summary and "InChIKey" in first.summary


# --- 5. exchange export ------------------------------------------------------------------------

def test_export_fields_and_keyed_ids(session, now, monkeypatch):
    session.add(Seizure(seizure_id="X1", occurred_at=now - dt.timedelta(days=3),
                        ubigeo="150101", agency="PNP", substance="fentanilo", form="powder",
                        smiles=FENTANYL + ".Cl", net_mass_mg=5.0, purity_percent=20.0,
                        content_hash="x1"))
    session.flush()
    sync_seizures(session)
    doc = export_incidents(session, now - dt.timedelta(days=30), now, now)
    inc = doc["incidents"][0]
    sub = inc["substance"]
    assert sub["first_detection_date"] and sub["cas_number"] == "437-38-7"
    assert sub["iupac_name"].startswith("N-phenyl") and sub["molecular_formula"] == "C22H28N2O"
    assert inc["sample_type"] == "powder" and inc["purity_percent"] == 20.0
    assert "laboratory identification" in inc["analytical_method"]
    assert doc["substances"][0]["inchikey"] == FENTANYL_KEY
    sig = session.scalar(select(Signal).where(Signal.source_id == "X1"))
    plain = hashlib.sha256(b"lab:X1").hexdigest()[:20].upper()
    assert inc["incident_id"] != f"PE-CEN-{plain}"
    assert incident_id(sig, key="a" * 32) != incident_id(sig, key="b" * 32)
    assert incident_id(sig, key="a" * 32) == incident_id(sig, key="a" * 32)


def test_the_cached_record_path_gives_the_classify_answers():
    from centinela.ews.classify import _RECORDS, classify_record

    queries = [FENTANYL, "c1ccccc1N(C(=O)CC)C1CCN(CCc2ccccc2)CC1", "fentanilo", "*C",
               "CCC(=O)N(c1ccccc1)C1CC[NH+](CCc2ccccc2)CC1", f"{FENTANYL}.Cl", "MT-45",
               "CCC(=O)N(c1ccc(Cl)cc1)C1CCN(CCc2cccs2)CC1", "polvo blanco"]
    for q in queries:
        _RECORDS.clear()
        assert classify_record(q) == classify(q).as_dict(), q
    for q in queries:  # and from the cache, keyed by structure, only the query differs
        assert classify_record(q) == classify(q).as_dict(), q


def test_overdose_records_with_unusable_structures_are_rejected(session, data_dir):
    from centinela.ews.intake import import_overdoses_file

    f = data_dir / "overdoses.csv"
    f.write_text("event_id,occurred_at,ubigeo,setting,confirmed_substances,reporter\n"
                 "O1,2025-12-20,150101,icu,*C,HOSP-1\n"
                 "O2,2025-12-20,150101,icu,[*]c1ccccc1,HOSP-1\n"
                 f"O3,2025-12-20,150101,icu,{FENTANYL}.{NOSCAPINE},HOSP-1\n", encoding="utf-8")
    counts = import_overdoses_file(session, f, None)
    assert counts["accepted"] == 1 and counts["rejected"] == 2
    reasons = [r.reason for r in session.scalars(select(Rejection))]
    assert any("comodín" in r for r in reasons)
    sig = session.scalar(select(Signal).where(Signal.source_kind == "overdose"))
    assert sig.payload["family"] == "fentanyl" and sig.inchikey == FENTANYL_KEY


def test_an_inchikey_or_inchi_identifies_a_structure():
    assert classify(FENTANYL_KEY).as_dict()["name_es"] == "fentanilo"
    unknown = classify("AAAAAAAAAAAAAA-BBBBBBBBBB-N").as_dict()
    assert unknown["error_es"].startswith("InChIKey ausente")
    inchi = "InChI=1S/C22H28N2O/c1-2-22(25)24(20-11-7-4-8-12-20)21-14-17-23(18-15-21)16-13-19-9-5-3-6-10-19/h3-12,21H,2,13-18H2,1H3"
    assert classify(inchi).as_dict()["inchikey"] == FENTANYL_KEY


def test_a_name_only_mixture_exports_every_reported_component(session, now):
    session.add(Seizure(seizure_id="M1", occurred_at=now - dt.timedelta(days=3),
                        ubigeo="150101", agency="PNP", substance="heroína + fentanilo + xilacina",
                        form="powder", content_hash="m1"))
    session.flush()
    sync_seizures(session)
    doc = export_incidents(session, now - dt.timedelta(days=30), now, now)
    comps = doc["incidents"][0]["substance"]["components"]
    assert [c["name"] for c in comps] == ["heroin", "fentanyl", "xylazine"]
    assert all(c["role"] == "reported" and c["inchikey"] for c in comps)
