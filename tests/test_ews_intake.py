"""Overdose records and seizures become signals: validation, idempotency, pseudonymity."""

import json

from sqlalchemy import select

from centinela.ews.intake import import_overdoses_file, sync_seizures
from centinela.ews.models import Overdose, Signal
from centinela.ledger.records import Rejection, Seizure

HEADER = ("event_id,occurred_at,ubigeo,setting,suspected_substances,confirmed_substances,"
          "naloxone_given,outcome,age_band,sex,reporter,route\n")
ISO = "CCN(CC)CCn1c(Cc2ccc(OC(C)C)cc2)nc2cc([N+](=O)[O-])ccc21"


def write(path, rows):
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_overdoses_import_validates_and_is_idempotent(session, data_dir):
    f = write(data_dir / "overdoses.csv", [
        "E1,2025-12-20T10:00:00-05:00,150101,emergency_department,heroína,fentanilo;xilacina,"
        "true,recovered,25-29,M,IPRESS-00001,injected",
        f"E2,2025-12-21T02:00:00,150101,death,,{ISO},false,,30-39,F,IPRESS-00001,",
        "E3,2025-12-21,999999,icu,,,,,30-39,F,IPRESS-00001,",
        "E4,2025-12-21,150101,icu,,,maybe,,30-39,F,IPRESS-00001,",
        "E5,2025-12-21,150101,icu,,,,,34,F,IPRESS-00001,",
        "E6,2025-12-21,150101,icu,,,,,,F,DNI:12345678,",
        "E7,2025-12-21,150101,icu,,C1CC(,,,,F,IPRESS-00001,",
        "E8,yesterday,150101,icu,,,,,,F,IPRESS-00001,",
        "E9,2025-12-21,150101,ward,,,,,,F,IPRESS-00001,",
        "E10,2025-12-21,150101,death,,,,recovered,,F,IPRESS-00001,",
    ])
    counts = import_overdoses_file(session, f, None)
    assert counts == {"accepted": 2, "duplicates": 0, "conflicts": 0, "rejected": 8}
    reasons = {r.field: r.reason for r in session.scalars(select(Rejection))}
    assert "INEI" in reasons["ubigeo"]
    assert "true or false" in reasons["naloxone_given"]
    assert "exact ages are not collected" in reasons["age_band"]
    assert "never a person's name or document" in reasons["reporter"]
    assert "RDKit cannot parse" in reasons["confirmed_substances"]
    assert "ISO 8601" in reasons["occurred_at"]
    assert "emergency_department" in reasons["setting"]
    assert "died" in reasons["outcome"]
    # the document number never reaches storage, not even in the rejected record
    dump = json.dumps([r.record for r in session.scalars(select(Rejection))])
    assert "12345678" not in dump
    # again: duplicates, no new rows
    assert import_overdoses_file(session, f, None)["duplicates"] == 2
    assert session.scalar(select(Overdose).where(Overdose.event_id == "E2")).outcome == "died"
    sigs = {s.source_id: s for s in session.scalars(select(Signal))}
    assert set(sigs) == {"IPRESS-00001:E1", "IPRESS-00001:E1#2", "IPRESS-00001:E2"}
    assert sigs["IPRESS-00001:E1"].substance == "fentanyl"
    assert sigs["IPRESS-00001:E1#2"].substance == "xylazine"
    assert sigs["IPRESS-00001:E2"].substance == "isotonitazene"
    assert sigs["IPRESS-00001:E2"].payload["category"] == "nitazene"
    assert sigs["IPRESS-00001:E2"].department == "15"
    # Lima time without offset: 02:00 Lima = 07:00 UTC
    assert sigs["IPRESS-00001:E2"].occurred_at.hour == 7


def test_conflict_and_unknown_columns_jsonl(session, data_dir):
    f = data_dir / "overdoses.jsonl"
    base = {"event_id": "X1", "occurred_at": "2025-12-01T08:00:00-05:00", "ubigeo": "40101",
            "setting": "icu", "suspected_substances": "fentanyl", "reporter": "HOSP-AQP"}
    f.write_text(json.dumps(base) + "\n", encoding="utf-8")
    assert import_overdoses_file(session, f, None)["accepted"] == 1
    assert session.scalar(select(Overdose)).ubigeo == "040101"  # leading zero restored
    f.write_text(json.dumps({**base, "setting": "death"}) + "\n"
                 + json.dumps({**base, "event_id": "X2", "patient_name": "Juan Pérez"}) + "\n"
                 + "{not json\n", encoding="utf-8")
    counts = import_overdoses_file(session, f, None)
    assert counts["conflicts"] == 1 and counts["rejected"] == 2
    rej = list(session.scalars(select(Rejection).order_by(Rejection.line)))
    assert rej[0].kind == "conflict"
    assert "unknown column(s) patient_name" in rej[1].reason
    assert "invalid JSON" in rej[2].reason


def test_directory_import_calls_the_extension(engine, data_dir, now):
    from centinela.db import session_scope
    from centinela.ingest.service import import_directory

    write(data_dir / "overdoses.csv", [
        "D1,2025-12-20T10:00:00-05:00,150101,prehospital,fentanyl,,true,recovered,20-24,M,"
        "SAMU-LIMA,",
    ])
    report = import_directory(engine, data_dir, now=now)
    text = json.dumps(report.as_dict())
    assert "overdoses" in text
    with session_scope(engine) as s:
        assert s.scalar(select(Overdose)).reporter == "SAMU-LIMA"
        assert s.scalar(select(Signal)).source_kind == "overdose"


def test_sync_seizures_creates_lab_and_seizure_signals_idempotently(session, now):
    acetyl = "CC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
    session.add_all([
        Seizure(seizure_id="S1", occurred_at=now, ubigeo="150101", agency="PNP-DIRANDRO",
                context="parcel", substance="fentanilo", smiles=acetyl, form="powder",
                net_mass_mg=2.0, purity_percent=50, content_hash="h1"),
        Seizure(seizure_id="S2", occurred_at=now, ubigeo="070101", agency="SUNAT",
                substance="unknown white powder", form="powder", content_hash="h2"),
    ])
    session.flush()
    assert sync_seizures(session) == {"new": 2, "updated": 0, "unchanged": 0, "errors": 0}
    assert sync_seizures(session) == {"new": 0, "updated": 0, "unchanged": 2, "errors": 0}
    lab = session.scalar(select(Signal).where(Signal.source_id == "S1"))
    assert lab.source_kind == "lab" and lab.substance == "acetylfentanyl"
    assert lab.payload["mismatch"] and lab.payload["category"] == "listed_fentanyl_analogue"
    assert lab.payload["tier"]["tier"] == "attenuated"  # 2 mg × 50% = 1 mg
    field = session.scalar(select(Signal).where(Signal.source_id == "S2"))
    assert field.source_kind == "seizure" and field.inchikey is None
    # the lab later identifies S2: the seizure signal becomes a lab signal (no duplicate)
    s2 = session.get(Seizure, "S2")
    s2.smiles, s2.content_hash = ISO, "h2b"
    session.flush()
    assert sync_seizures(session)["updated"] == 1
    rows = list(session.scalars(select(Signal).where(Signal.source_id == "S2")))
    assert len(rows) == 1 and rows[0].source_kind == "lab" and rows[0].substance == "isotonitazene"


def test_reported_mixtures_and_messy_names_key_the_opioid_end_to_end(engine, data_dir, now):
    """A police field report names a mixture or writes a name its own way: the signal keys the
    most serious substance it names, lists every part, and an unlisted fentanyl name is kept
    for expert review instead of being read as another substance."""
    from centinela.db import session_scope
    from centinela.ews.detect import substance_key
    from centinela.ews.intake import sync_seizures
    from centinela.ews.registry import registry
    from centinela.ingest.service import import_directory

    day = now.date().isoformat()
    (data_dir / "seizures.csv").write_text(
        "seizure_id,occurred_at,ubigeo,agency,context,substance,form,units,net_mass_mg\n"
        f"M1,{day}T10:00:00-05:00,200101,PNP-DIRANDRO,street,"
        "\"Heroína cortada con fentanilo y xilazina (prueba de campo)\",powder,,1500\n"
        f"M2,{day}T11:00:00-05:00,200101,PNP-DIRANDRO,street,presunto FENTANILLO 2%,powder,,40\n"
        f"M3,{day}T12:00:00-05:00,240101,SUNAT,parcel,cocaína + orto-metilfentanilo,powder,,900\n"
        f"M4,{day}T12:30:00-05:00,150101,PNP-DIRANDRO,street,polvo blanco,powder,,12\n",
        encoding="utf-8")
    report = import_directory(engine, data_dir, now=now)
    seizures = [f for f in report.as_dict()["files"] if "seizures" in json.dumps(f)]
    assert seizures and '"accepted": 4' in json.dumps(seizures[0]), report.as_dict()
    with session_scope(engine) as s:
        sync_seizures(s)
        sig = {x.source_id: x for x in s.scalars(select(Signal))}
        fentanyl = registry().by_key_id["fentanyl"].inchikey
        assert sig["M1"].inchikey == fentanyl and sig["M1"].substance == "fentanyl"
        parts = [c["registry_id"] for c in sig["M1"].payload["reported_components"]]
        assert parts == ["heroin", "fentanyl", "xylazine"]
        assert sig["M1"].payload["category"] == "fentanyl"
        assert substance_key(sig["M2"]) == fentanyl  # a typo and a purity around the name
        assert sig["M3"].inchikey is None and sig["M3"].payload["family_hint"] == "fentanyl"
        assert substance_key(sig["M3"]) == "name:orto-metilfentanilo"
        assert substance_key(sig["M4"]) is None or sig["M4"].inchikey is None
        # the unlisted fentanyl name is scored as an unregistered fentanyl-family member would
        # be (unconfirmed), not as an unknown substance
        import datetime as dt

        from centinela.alerts.models import Alert
        from centinela.ews import detectors as ews_detectors

        ews_detectors.run(s, now + dt.timedelta(days=1), only=("ews_first",))
        first = {a.subject_id: a for a in s.scalars(select(Alert).where(
            Alert.detector == "ews_first_reported"))}
        assert first["24"].evidence["category"] == "reported_fentanyl_family"
        assert first["24"].score > first["20"].score
