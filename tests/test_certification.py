"""The certification programme: one validity rule, certificate intake, status, reminders, API."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from centinela.alerts.models import Alert, Delivery
from centinela.certification.models import Certificate
from centinela.certification.progress import department_status, national, send_reminders
from centinela.certification.rule import Period, standing
from centinela.cli import app
from centinela.db import session_scope
from centinela.detect.engine import run_all
from centinela.ingest.service import import_directory
from centinela.ledger.records import Rejection
from tests.detect_factory import FENT_AMP, base_products, est, mv, prof

D = dt.date


def test_the_rule_states_on_the_edges():
    p = [Period(D(2026, 1, 10), D(2027, 1, 10), "C1", "registry")]
    assert standing(p, D(2026, 1, 9)).state == "missing"  # not yet issued
    assert standing(p, D(2026, 1, 10)).state == "valid"  # issue day counts
    assert standing(p, D(2026, 11, 11), 60).state == "expiring"  # 60 days left
    assert standing(p, D(2026, 11, 10), 60).state == "valid"  # 61 days left
    assert standing(p, D(2027, 1, 10)).state == "expiring"  # expiry day still valid
    st = standing(p, D(2027, 1, 11))
    assert (st.state, st.valid_until) == ("expired", D(2027, 1, 10))
    assert standing([], D(2026, 5, 1)).state == "missing"
    # A renewal that starts before the first ends continues it: not "expiring".
    p2 = [*p, Period(D(2026, 12, 1), D(2027, 12, 1), "C2", "certificate")]
    st = standing(p2, D(2026, 12, 20), 60)
    assert (st.state, st.valid_until) == ("valid", D(2027, 12, 1))


def _registry_files(folder):
    (folder / "establishments.csv").write_text(
        "establishment_id,name,kind,sector,ubigeo,ruc,authorized_controlled,authorization_expires\n"
        "EST-1,Botica Uno,pharmacy,private,150101,20123456789,true,2030-01-01\n"
        "EST-2,Hospital Dos,hospital,public,040101,20123456788,true,2030-01-01\n", encoding="utf-8")
    (folder / "professionals.csv").write_text(
        "professional_id,role,full_name,specialty,establishment_id,ubigeo,opioid_certified_on,certificate_id\n"
        "CMP-000001,prescriber,Ana Uno,oncology,EST-1,150101,2026-01-10,REG-1\n"
        "CQFP-00002,pharmacist,Beto Dos,,EST-1,150101,,\n"
        "CQFP-00003,pharmacist,Caro Tres,,EST-2,,,\n"
        "CMP-000004,prescriber,Dani Cuatro,,EST-2,040101,2025-08-01,REG-4\n"
        "CEP-000005,nurse,Eva Cinco,,EST-1,150101,2026-03-01,\n", encoding="utf-8")


def test_certificates_file_is_imported_validated_and_idempotent(engine, session, data_dir):
    _registry_files(data_dir)
    (data_dir / "certificates.csv").write_text(
        "certificate_id,professional_id,issuer,issued_on,expires_on,course\n"
        "C-2,CQFP-00002,Colegio Químico Farmacéutico,2026-08-15,2026-10-20,Manejo seguro\n"
        "C-3,CQFP-00003,DIGEMID,2026-02-01,,Manejo seguro\n"
        "C-9,CQFP-99999,DIGEMID,2026-02-01,,\n"
        "C-10,CQFP-00003,DIGEMID,2026-13-01,,\n"
        "C-11,CQFP-00003,DIGEMID,2026-05-01,2026-04-01,\n"
        "C-12,CQFP-00003,,2026-05-01,,\n", encoding="utf-8")
    rep = import_directory(engine, data_dir, now=dt.datetime(2026, 9, 1, 12))
    files = {f.name: f for f in rep.files}
    cert = files["certificates.csv"]
    assert (cert.accepted, cert.rejected) == (2, 4)
    rows = {c.certificate_id: c for c in session.scalars(select(Certificate))}
    assert rows["C-3"].expires_on == D(2027, 2, 1) and rows["C-3"].expiry_derived  # + 365 days
    assert rows["C-2"].expires_on == D(2026, 10, 20) and not rows["C-2"].expiry_derived
    why = {r.record_key: (r.field, r.reason) for r in session.scalars(
        select(Rejection).where(Rejection.record_type == "certificate"))}
    assert why["CQFP-99999:C-9"][0] == "professional_id"
    assert why["CQFP-00003:C-10"][0] == "issued_on"
    assert why["CQFP-00003:C-11"][0] == "expires_on"
    assert why["CQFP-00003:C-12"][0] == "issuer"
    # Re-sent: duplicates; same id with another date: a conflict, the stored one unchanged.
    (data_dir / "certificates.csv").write_text(
        "certificate_id,professional_id,issuer,issued_on,expires_on,course\n"
        "C-2,CQFP-00002,Colegio Químico Farmacéutico,2026-08-15,2026-10-20,Manejo seguro\n"
        "C-3,CQFP-00003,DIGEMID,2026-03-01,,Manejo seguro\n", encoding="utf-8")
    rep = import_directory(engine, data_dir, now=dt.datetime(2026, 9, 2, 12))
    cert = {f.name: f for f in rep.files}["certificates.csv"]
    assert (cert.accepted, cert.duplicates, cert.conflicts) == (0, 1, 1)
    session.expire_all()
    assert session.scalar(select(Certificate.issued_on).where(Certificate.certificate_id == "C-3")) == D(2026, 2, 1)


def test_status_by_department_counts_nurses_apart(engine, session, data_dir):
    _registry_files(data_dir)
    (data_dir / "certificates.csv").write_text(
        "certificate_id,professional_id,issuer,issued_on,expires_on,course\n"
        "C-2,CQFP-00002,CQFP,2026-08-15,2026-10-20,Manejo seguro\n", encoding="utf-8")
    import_directory(engine, data_dir, now=dt.datetime(2026, 9, 1, 12))
    rows = {r["department"]: r for r in department_status(session, D(2026, 9, 30))}
    # Lima (15): CMP-1 valid (registry, to 2027-01-10); CQFP-2 valid, expiring 2026-10-20;
    # nurse apart. Arequipa (04): CQFP-3 (department from its workplace) missing, CMP-4
    # expired on 2026-08-01.
    assert (rows["15"]["certified"], rows["15"]["total"], rows["15"]["expiring_60d"]) == (2, 2, 1)
    assert (rows["15"]["nurses_certified"], rows["15"]["nurses_total"]) == (1, 1)
    assert (rows["04"]["certified"], rows["04"]["total"], rows["04"]["percent"]) == (0, 2, 0.0)
    assert (rows["04"]["prescribers_total"], rows["04"]["pharmacists_total"]) == (1, 1)
    nat = national(list(rows.values()))
    assert (nat["certified"], nat["total"], nat["percent"]) == (2, 4, 50.0)
    # The command: one JSON line per department, the national line only in the text output.
    out = CliRunner().invoke(app, ["certification", "status", "--json", "--as-of", "2026-09-30"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.output.strip().splitlines()]
    assert [x["department"] for x in lines] == ["04", "15"]
    assert {k: lines[1][k] for k in ("certified", "total", "nurses_certified", "nurses_total")} == \
        {"certified": 2, "total": 2, "nurses_certified": 1, "nurses_total": 1}
    text = CliRunner().invoke(app, ["certification", "status", "--as-of", "2026-09-30"]).output
    assert "Perú (nacional)" in text and "50.0" in text


def test_reminders_reach_professionals_and_their_regional_authority_once(engine, session, data_dir):
    _registry_files(data_dir)
    import_directory(engine, data_dir, now=dt.datetime(2026, 9, 1, 12))
    now = dt.datetime(2026, 12, 1, 12)
    res = send_reminders(session, D(2026, 12, 1), now)
    session.commit()
    # CMP-1 expires 2027-01-10 (40 days: expiring); CQFP-2, CQFP-3 missing; CMP-4 expired.
    assert res["by_state"] == {"expiring": 1, "missing": 2, "expired": 1}
    assert res["queued_professionals"] == 4
    mine = {d.payload["professional_id"]: d.payload for d in session.scalars(
        select(Delivery).where(Delivery.payload_kind == "cert_reminder",
                               Delivery.ref.like("cert:%")))}
    assert set(mine) == {"CMP-000001", "CQFP-00002", "CQFP-00003", "CMP-000004"}
    assert mine["CMP-000001"]["valid_until"] == "2027-01-10"
    lists = list(session.scalars(select(Delivery).where(Delivery.ref.like("certlist:%"))))
    by_auth = {d.payload["authority_id"]: d.payload for d in lists}
    assert set(by_auth) >= {"GERESA-04"}  # Arequipa's regional health authority
    assert by_auth["GERESA-04"]["counts"] == {"missing": 1, "expired": 1}
    assert "DIGEMID" not in by_auth  # the list goes to the regional level
    # The command says the states in words (it printed the raw dict).
    text = CliRunner().invoke(app, ["certification", "remind", "--as-of", "2026-12-01"]).output
    assert "{" not in text and "profesionales por recordar" in text, text
    # Lima Metropolitana (150101, Cercado): the DIRIS Lima Centro, not DIRESA Lima provincias.
    assert {p["professional_id"] for p in by_auth["DIRIS-LC"]["professionals"]} == \
        {"CMP-000001", "CQFP-00002"}
    assert "DIRESA-15" not in by_auth
    again = send_reminders(session, D(2026, 12, 1), now)
    assert again["queued_professionals"] == 0 and again["queued_authorities"] == 0


def test_detector_uses_the_certificates_table_too(session):
    base_products(session)
    est(session, "F1")
    prof(session, "CQFP-TABLE", role="pharmacist")  # certified only through the certificates table
    prof(session, "CQFP-NONE", role="pharmacist")
    prof(session, "CMP-DOC", certified=D(2025, 12, 1))
    session.add(Certificate(certificate_id="X1", professional_id="CQFP-TABLE", issuer="DIGEMID",
                            issued_on=D(2025, 11, 1), expires_on=D(2026, 3, 1),
                            expiry_derived=False, content_hash="0" * 32,
                            created_at=dt.datetime(2025, 11, 1)))
    for pid, day in (("CQFP-TABLE", 10), ("CQFP-NONE", 10)):
        mv(session, "dispense", "F1", FENT_AMP, 2, dt.datetime(2026, 2, day, 15),
           professional_id=pid, prescriber_id="CMP-DOC", patient_id="PSN:p1",
           prescription_id=f"R-{pid}")
    # After its certificate expired (2026-03-01): the same pharmacist is flagged.
    mv(session, "dispense", "F1", FENT_AMP, 1, dt.datetime(2026, 3, 5, 15),
       professional_id="CQFP-TABLE", prescriber_id="CMP-DOC", patient_id="PSN:p1",
       prescription_id="R-late")
    session.commit()
    run_all(session)
    alerts = {a.subject_id: a for a in session.query(Alert).filter_by(detector="uncertified_handler")}
    assert set(alerts) == {"CQFP-NONE", "CQFP-TABLE"}
    late = alerts["CQFP-TABLE"]
    assert late.evidence["event_count"] == 1
    assert late.evidence["certificate_valid_until"] == "2026-03-01"
    assert late.window_start == dt.datetime(2026, 3, 2, 5)  # the day after it lapsed, Lima


def test_the_scheduler_queues_reminders_on_its_own_once_a_period(engine, session, data_dir):
    # `centinela serve` runs the reminders itself (at start, then every
    # certification_remind_every_hours); a second period on the same day queues nothing new.
    import time

    from centinela.jobs import start_background

    _registry_files(data_dir)
    import_directory(engine, data_dir, now=dt.datetime(2026, 9, 1, 12))

    def reminders() -> int:
        with session_scope(engine) as s:
            return s.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.payload_kind == "cert_reminder", Delivery.ref.like("cert:%"))) or 0

    stop = start_background(engine, interval_s=3600, dispatch_every_s=0.1, run_detection=False,
                            remind_every_s=0.2)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and reminders() == 0:
            time.sleep(0.1)
        time.sleep(0.5)  # a few more periods
    finally:
        stop()
    queued = reminders()
    assert queued >= 1  # the professionals without a valid certificate, once each
    with session_scope(engine) as s:
        refs = list(s.scalars(select(Delivery.ref).where(Delivery.ref.like("cert:%"))))
    assert len(refs) == len(set(refs)) == queued


def test_the_scheduler_leaves_reminders_alone_when_switched_off(engine, session, data_dir):
    import time

    from centinela.jobs import start_background

    _registry_files(data_dir)
    import_directory(engine, data_dir, now=dt.datetime(2026, 9, 1, 12))
    stop = start_background(engine, interval_s=3600, dispatch_every_s=0.1, run_detection=False,
                            remind_every_s=0)
    try:
        time.sleep(0.6)
    finally:
        stop()
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.payload_kind == "cert_reminder")) == 0
