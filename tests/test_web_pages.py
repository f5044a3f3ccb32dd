"""Pages: JSON twins equal page contexts, audit of personal data, lookup, cases, map, imports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select, text, update

from centinela.alerts.models import Alert, CaseEvent
from centinela.audit import AuditEntry
from centinela.ledger.records import Movement
from tests.web_support import login

HTML = {"accept": "text/html"}
TWINS = [
    ("analista", "/alerts?severity=high", "/api/v1/alerts?severity=high"),
    ("lima", "/alerts", "/api/v1/alerts"),
    ("analista", "/alerts/{prescriber_volume}", "/api/v1/alerts/{prescriber_volume}"),
    ("policia", "/alerts/{prescriber_volume}", "/api/v1/alerts/{prescriber_volume}"),
    ("analista", "/map", "/api/v1/map"),
    ("analista", "/profiles?q=Lima", "/api/v1/profiles?q=Lima"),
    ("analista", "/profiles/professional/CMP-000001", "/api/v1/profiles/professional/CMP-000001"),
    ("analista", "/profiles/establishment/EST-DIST", "/api/v1/profiles/establishment/EST-DIST"),
    ("analista", "/profiles/region/15", "/api/v1/profiles/region/15"),
    ("analista", "/profiles/serial/SN-0001", "/api/v1/profiles/serial/SN-0001"),
    ("analista", "/profiles/patient/{patient_lima}", "/api/v1/profiles/patient/{patient_lima}"),
    ("analista", "/imports", "/api/v1/import-runs"),
    ("admin", "/admin", "/api/v1/admin/users"),
    ("admin", "/admin/access", "/api/v1/admin/access-requests"),
    ("admin", "/admin/authorities", "/api/v1/admin/authorities"),
    ("admin", "/admin/audit", "/api/v1/admin/audit"),
    ("policia", "/access", "/api/v1/access-requests"),
]


@pytest.mark.parametrize("username,page,api", TWINS, ids=[t[2] for t in TWINS])
def test_json_twin_equals_the_page_context(app, world, username, page, api):
    client = login(app, username)
    r = client.get(page.format(**world), headers=HTML)
    assert r.status_code == 200
    page_ctx = r.context["ctx"].model_dump(mode="json")
    twin = client.get(api.format(**world)).json()
    if api.startswith("/api/v1/admin/audit"):  # reading the page itself adds nothing; same log
        assert page_ctx["entries"] == twin["entries"]
    else:
        assert page_ctx == twin


def _audit(session, action):
    return session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_every_read_of_personal_data_is_audited(app, world, session):
    client = login(app, "analista")
    client.get(f"/api/v1/profiles/patient/{world['patient_lima']}")
    client.get(f"/profiles/patient/{world['patient_lima']}", headers=HTML)
    client.get(f"/api/v1/alerts/{world['prescriber_volume']}")  # evidence lists a patient
    client.get(f"/api/v1/alerts/{world['stock_gap']}")  # its movements name patients
    login(app, "policia").get(f"/api/v1/alerts/{world['lot_anomaly']}")  # hidden → no read
    session.expire_all()
    profiles = _audit(session, "patient.profile")
    assert len(profiles) == 2 and {e.actor for e in profiles} == {"analista"}
    assert profiles[0].subject == world["patient_lima"]
    evid = _audit(session, "alert.patient_data")
    assert sorted(e.subject for e in evid) == sorted([world["prescriber_volume"],
                                                      world["stock_gap"]])
    # Profiles of professionals never show patient pseudonyms, so they are not personal reads.
    prof = client.get("/api/v1/profiles/professional/CMP-000001").json()
    assert world["patient_lima"] not in str(prof)


def test_lookup_one_form_one_page_audited_and_never_stores_the_document(app, world, session):
    client = login(app, "farmacia")
    r = client.post("/lookup", data={"document_type": "DNI", "document_number": "44556677",
                                     "reason": "dispensing", "note": "receta nueva",
                                     "attest": "on"}, headers=HTML)
    assert r.status_code == 200
    ctx = r.context["ctx"]
    assert ctx.patient_id == world["patient_lima"]
    # 12 monthly patch dispensations + one administration in the sample, all within a year.
    assert len(ctx.dispensations) == 13
    assert {p.id for p in ctx.prescribers} == {"CMP-000001", "CMP-000002"}
    assert len(ctx.daily_mme.points) == 366
    # 32 patches of 25 mcg/h over 30 days: 32 × 7.2 × 25 / 30 = 192 MME/day on the last one.
    newest = ctx.dispensations[0]
    assert newest.daily_mme == pytest.approx(10 * 7.2 * 25 / 30, rel=1e-3)
    assert ctx.current_mme >= newest.daily_mme
    assert "44556677" not in r.text
    entries = _audit(session, "pdmp.lookup")
    assert len(entries) == 1
    e = entries[0]
    assert e.actor == "farmacia" and e.subject == world["patient_lima"]
    assert e.reason.startswith("dispensing") and e.details["attested"] is True
    dump = " ".join(str(x.__dict__) for x in session.scalars(select(AuditEntry)))
    assert "44556677" not in dump


def test_a_professionals_profile_shows_a_certificate_imported_apart(app, world, session, now):
    # Certificates imported from the certification file (not the registry's column) count on
    # the profile too: its state today, dates and certificate id.
    import datetime as _dt

    from centinela.certification.models import Certificate

    day = now.date() - _dt.timedelta(days=30)
    session.add(Certificate(certificate_id="CERT-CMP-1", professional_id="CMP-000001",
                            issuer="CMP", issued_on=day, expires_on=day + _dt.timedelta(days=365),
                            expiry_derived=False, content_hash="3" * 32, created_at=now))
    session.commit()
    client = login(app, "analista")
    facts = {f["key"]: f["value"] for f in
             client.get("/api/v1/profiles/professional/CMP-000001").json()["facts"]}
    assert facts["profile.certification_state"] == "valid"
    assert facts["profile.certificate"] == "CERT-CMP-1"
    assert facts["profile.certified_on"] == day.isoformat()
    page = client.get("/profiles/professional/CMP-000001?lang=es", headers=HTML).text
    assert "Certificado vigente" in page and "CERT-CMP-1" in page


def test_lookup_risk_rules_read_in_the_pages_language(app, world):
    # The risk score's rules were Spanish on the English page.
    client = login(app, "farmacia")
    form = {"document_type": "DNI", "document_number": "44556677", "reason": "dispensing",
            "note": "receta nueva", "attest": "on"}
    en = client.post("/lookup?lang=en", data=form, headers=HTML)
    assert en.status_code == 200
    assert "5 per prescriber after the 2nd (max. 20)" in en.text
    assert "por prescriptor" not in en.text
    es = client.post("/lookup?lang=es", data=form, headers=HTML)
    assert "5 por prescriptor después del 2.º (máx. 20)" in es.text


def test_lookup_requires_the_attestation_and_a_reason(app, world, session):
    client = login(app, "medico")
    r = client.post("/lookup", data={"document_type": "DNI", "document_number": "44556677",
                                     "reason": "dispensing"}, headers=HTML)
    assert r.status_code == 422 and "ctx" in r.context and r.context["ctx"] is None
    r = client.post("/api/v1/lookup", json={"document_type": "DNI",
                                            "document_number": "44556677",
                                            "reason": "curiosity", "attest": True})
    assert r.status_code == 422
    assert _audit(session, "pdmp.lookup") == []


@pytest.mark.parametrize("kind,number,why", [
    ("DNI", "1234", "invalid_document_dni"), ("DNI", "4455667", "invalid_document_dni"),
    ("DNI", "44556677A", "invalid_document_dni"), ("CE", "12345678", "invalid_document_ce"),
    ("PAS", "ABCDEF", "invalid_document_pas"), ("PAS", "12", "invalid_document_pas"),
])
def test_an_invalid_document_is_refused_not_shown_as_a_patient_without_history(
        app, world, session, kind, number, why):
    client = login(app, "farmacia")
    r = client.post("/lookup", data={"document_type": kind, "document_number": number,
                                     "reason": "dispensing", "attest": "on"}, headers=HTML)
    assert r.status_code == 422 and r.context["ctx"] is None
    assert r.context["errors"] == [f"lookup.{why}"] and "Documento inválido" in r.text
    assert f">{number}<" not in r.text  # never echoed
    api = client.post("/api/v1/lookup", json={"document_type": kind, "document_number": number,
                                              "reason": "dispensing", "attest": True})
    assert api.status_code == 422
    assert _audit(session, "pdmp.lookup") == []


def test_lookup_tells_not_found_from_no_recent_history_and_shows_identity_cues(app, world,
                                                                               session):
    client = login(app, "farmacia")
    body = {"document_type": "DNI", "reason": "dispensing", "attest": True}
    # Typed with dots, as people do: the same patient.
    found = client.post("/api/v1/lookup", json={**body, "document_number": "44.556.677"}).json()
    assert found["status"] == "found" and found["patient_id"] == world["patient_lima"]
    ident = found["identity"]
    assert set(ident) >= {"sex", "birth_year", "age", "district", "district_name", "varies"}
    missing = client.post("/api/v1/lookup", json={**body, "document_number": "10293847"}).json()
    assert missing["status"] == "not_found" and missing["identity"] is None
    assert missing["dispensations"] == []
    page = client.post("/lookup", data={"document_type": "DNI", "document_number": "10293847",
                                        "reason": "dispensing", "attest": "on"}, headers=HTML)
    assert 'data-status="not_found"' in page.text and "error de digitación" in page.text
    # A known patient whose records are older than a year: "no recent history", not "not found".
    old = session.scalars(select(Movement).where(
        Movement.patient_id == world["patient_lima"])).all()
    for m in old:
        m.occurred_at = m.occurred_at.replace(year=m.occurred_at.year - 3)
    session.commit()
    stale = client.post("/api/v1/lookup", json={**body, "document_number": "44556677"}).json()
    assert stale["status"] == "no_recent_history" and stale["identity"] is not None
    assert stale["last_seen"] is not None


def _add_benzodiazepine(session, patient, now):
    import datetime as dt

    from centinela.registry.models import Product

    session.add(Product(product_code="CLO-2", name="Clonazepam 2 mg tableta",
                        substance="clonazepam", dosage_form="tablet", strength_mg_per_unit=2))
    session.add(Movement(event_id="BZ-1", event_type="dispense",
                         occurred_at=now - dt.timedelta(days=3), establishment_id="EST-LIM-F1",
                         product_code="CLO-2", quantity=30, prescription_id="RB-1",
                         prescriber_id="CMP-000002", patient_id=patient, days_supply=30,
                         content_hash="b" * 32))
    session.commit()


def test_the_report_shows_a_benzodiazepine_with_an_opioid_and_prints_as_pdf(app, world, session,
                                                                            now):
    _add_benzodiazepine(session, world["patient_lima"], now)
    client = login(app, "farmacia")
    psn = world["patient_lima"]
    assert client.get(f"/lookup/{psn}/pdf").status_code == 404  # no lookup yet: no PDF
    r = client.post("/lookup", data={"document_type": "DNI", "document_number": "44556677",
                                     "reason": "dispensing", "attest": "on"}, headers=HTML)
    ctx = r.context["ctx"]
    assert ctx.benzodiazepine_overlap_days >= 1 and ctx.naloxone
    assert "lookup.warn_benzodiazepine" in ctx.warnings and "lookup.warn_naloxone" in ctx.warnings
    assert ctx.current_diazepam_mg == 40
    assert 'data-warning="lookup.warn_naloxone"' in r.text and "naloxona" in r.text
    pdf = client.get(f"/lookup/{psn}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 2_000
    assert b"44556677" not in pdf.content
    assert len(_audit(session, "pdmp.report_pdf")) == 1
    # Another professional who did not look the patient up gets no PDF.
    assert login(app, "medico").get(f"/lookup/{psn}/pdf").status_code == 404


def test_a_prescriber_sees_own_dispensations_and_reports_one_that_was_not_them(app, world,
                                                                             session):
    client = login(app, "medico")  # CMP-000001
    mine = client.get("/api/v1/my/prescriptions").json()
    assert mine["professional_id"] == "CMP-000001" and mine["total"] >= 1
    r = client.get("/mis-recetas", headers=HTML)
    assert r.status_code == 200 and r.context["ctx"].model_dump(mode="json") == mine
    target = mine["dispensations"][0]["id"]
    r = client.post(f"/mis-recetas/{target}/no-fui-yo", data={"note": "no conozco al paciente"},
                    follow_redirects=False)
    assert r.status_code == 303 and "alert=ALR-" in r.headers["location"]
    alert = session.scalars(select(Alert).where(Alert.detector == "prescriber_disputed")).one()
    assert alert.subject_id == "CMP-000001" and alert.severity == "high"
    assert alert.evidence["note"] == "no conozco al paciente"
    assert client.get("/api/v1/my/prescriptions").json()["dispensations"][0]["disputed"]
    assert len(_audit(session, "prescriber.dispute")) == 1
    # Someone else's dispensation, or another role: refused.
    other = session.scalars(select(Movement).where(
        Movement.event_type == "dispense", Movement.prescriber_id != "CMP-000001")).first()
    assert client.post(f"/api/v1/my/prescriptions/{other.id}/dispute",
                       json={}).status_code == 404
    assert login(app, "farmacia").get("/api/v1/my/prescriptions").status_code == 403


def test_case_actions_move_the_alert_and_are_audited(app, world, session):
    client = login(app, "lima")
    aid = world["prescriber_volume"]
    r = client.post(f"/alerts/{aid}/actions", data={"action": "triage", "note": "revisando"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.post(f"/api/v1/alerts/{aid}/actions",
                       json={"action": "schedule_audit", "note": "visita 12/01"}).json()[
        "status"] == "audit_scheduled"
    bad = client.post(f"/api/v1/alerts/{aid}/actions", json={"action": "close"})
    assert bad.status_code == 409 and "outcome" in bad.json()["detail"]
    done = client.post(f"/api/v1/alerts/{aid}/actions", json={
        "action": "close", "outcome": "confirmed", "note": "desvío confirmado"}).json()
    assert done == {"alert_id": aid, "status": "closed", "outcome": "confirmed"}
    session.expire_all()
    events = session.scalars(select(CaseEvent).where(CaseEvent.alert_id == aid)
                             .order_by(CaseEvent.id)).all()
    assert [e.action for e in events] == ["triage", "schedule_audit", "close"]
    audited = session.scalars(select(AuditEntry).where(AuditEntry.action.like("case.%"))
                              .order_by(AuditEntry.id)).all()
    assert [(a.actor, a.action, a.subject) for a in audited] == [
        ("lima", "case.triage", f"alert:{aid}"), ("lima", "case.schedule_audit", f"alert:{aid}"),
        ("lima", "case.close", f"alert:{aid}")]
    detail = client.get(f"/alerts/{aid}", headers=HTML)
    assert "desvío confirmado" in detail.text
    assert session.scalar(select(Alert.status).where(Alert.alert_id == aid)) == "closed"


def test_admin_audit_viewer_detects_tampering(app, world, session):
    analyst, admin = login(app, "analista"), login(app, "admin")
    analyst.get(f"/api/v1/profiles/patient/{world['patient_lima']}")
    analyst.get(f"/api/v1/profiles/patient/{world['patient_piura']}")
    ctx = admin.get("/api/v1/admin/audit").json()
    assert ctx["chain_ok"] and ctx["total"] >= 2
    first = min(e["id"] for e in ctx["entries"])
    guarded = session.bind.dialect.name == "postgresql"
    if guarded:  # an attacker with database rights first disables the append-only guard
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    session.execute(update(AuditEntry).where(AuditEntry.id == first).values(reason="nada"))
    if guarded:
        session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    session.commit()
    page = admin.get("/admin/audit", headers=HTML)
    assert page.context["ctx"].chain_ok is False
    assert page.context["ctx"].first_bad_id == first
    assert 'id="chain-status"' in page.text and f"#{first}" in page.text


def test_alert_detail_shows_evidence_chart_movements_and_routing(app, world):
    client = login(app, "analista")
    ctx = client.get(f"/api/v1/alerts/{world['prescriber_volume']}").json()
    keys = {e["key"]: e["value"] for e in ctx["evidence_items"]}
    assert keys["observed_mme"] == "5,400.00" and keys["z"] == "4.20"
    chart = ctx["chart"]
    assert len(chart["subject"]["points"]) == 12 and chart["peers"] is not None
    assert chart["peer_label"] == "peers.same_specialty"
    assert sum(p["value"] for p in chart["subject"]["points"]) > 0
    assert ctx["movements_total"] == len(ctx["movements"]) > 0
    assert set(ctx["actions"]) >= {"triage", "schedule_audit", "close"}
    page = client.get(f"/alerts/{world['prescriber_volume']}", headers=HTML).text
    assert "<svg" in page and "<polyline" in page


def test_an_alert_not_found_again_says_so_in_both_languages(app, world, session):
    alert = session.get(Alert, session.scalar(select(Alert.id).where(
        Alert.alert_id == world["prescriber_volume"])))
    alert.evidence = {**alert.evidence, "not_found_since": "2025-06-03"}
    session.commit()
    client = login(app, "analista")
    es = client.get(f"/alerts/{world['prescriber_volume']}?lang=es", headers=HTML).text
    assert 'id="not-found-again"' in es and "ya no encontró este hallazgo" in es
    en = client.get(f"/alerts/{world['prescriber_volume']}?lang=en", headers=HTML).text
    assert "did not find this again" in en and "Not found again by the full runs since" in en


def test_map_shades_every_department_and_links_to_regions(app, world, session):
    client = login(app, "analista")
    ctx = client.get("/api/v1/map").json()
    assert len(ctx["regions"]) == 25
    by = {r["code"]: r for r in ctx["regions"]}
    lima_mg = session.scalar(select(Movement.id).limit(1)) and by["15"]["fentanyl_mg_12m"]
    assert lima_mg > 0 and by["20"]["fentanyl_mg_12m"] == 0  # Piura uses morphine only
    assert by["20"]["open_alerts"] == 2 and by["15"]["shade"] >= 1
    page = client.get("/map", headers=HTML).text
    # The map drills down (department → provinces); the table links each region's profile.
    assert page.count("<path ") == 25 and page.count('href="/profiles/region/') == 25
    assert page.count('href="/map?region=') >= 50


def test_upload_with_one_bad_row_shows_the_reason_and_the_rejects_csv(app, world):
    from centinela.ingest.fields import SPECS

    fields = list(SPECS["movements"].base_fields)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    base = dict.fromkeys(fields, "")
    w.writerow({**base, "event_id": "UP-1", "event_type": "receipt",
                "occurred_at": "2025-12-01T10:00:00-05:00", "establishment_id": "EST-LIM-H1",
                "product_code": "FEN-AMP", "quantity": "10", "counterparty_id": "EST-DIST"})
    w.writerow({**base, "event_id": "UP-2", "event_type": "receipt",
                "occurred_at": "2025-12-01T11:00:00-05:00", "establishment_id": "EST-LIM-H1",
                "product_code": "NO-SUCH", "quantity": "10", "counterparty_id": "EST-DIST"})
    client = login(app, "analista")
    r = client.post("/imports", files={"files": ("movements.csv", buf.getvalue().encode(),
                                                 "text/csv")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    run_id = int(r.headers["location"].rsplit("/", 1)[1])
    detail = client.get(f"/api/v1/import-runs/{run_id}").json()
    assert detail["run"]["accepted"] == 1 and detail["run"]["rejected"] == 1
    (rej,) = detail["rejections"]
    assert rej["line"] == 3 and rej["field"] == "product_code" and "NO-SUCH" in rej["reason"]
    page = client.get(f"/imports/{run_id}", headers=HTML).text
    assert rej["reason"] in page.replace("&#34;", '"').replace("&#39;", "'")
    dl = client.get(f"/imports/{run_id}/rejects.csv")
    rows = list(csv.DictReader(io.StringIO(dl.text)))
    assert dl.headers["content-type"].startswith("text/csv")
    assert rows[0]["event_id"] == "UP-2" and rows[0]["field"] == "product_code"


def test_pages_switch_to_english(app, world):
    client = login(app, "analista")
    es = client.get("/alerts", headers=HTML).text
    en = client.get("/alerts?lang=en", headers=HTML).text
    assert "Bandeja de alertas" in es and "Alert inbox" in en
    r = client.get("/lang/en", headers={"referer": "http://testserver/map"},
                   follow_redirects=False)
    assert r.headers["location"] == "/map" and "lang=en" in r.headers["set-cookie"]


def test_a_delegate_looks_up_on_behalf_of_a_pharmacist_audited_under_both_names(app, world,
                                                                                session):
    from centinela.accounts.models import User

    principal = login(app, "farmacia")
    r = principal.post("/delegados", data={"username": "tecnico1", "full_name": "Técnico",
                                           "password": "una-clave-larga-del-tecnico"},
                       follow_redirects=False)
    assert r.status_code == 303
    names = [d["username"] for d in principal.get("/api/v1/delegates").json()["delegates"]]
    assert names == ["tecnico", "tecnico1"]  # the demo delegate and the new one
    bad = principal.post("/delegados", data={"username": "x", "password": "corta"},
                         headers=HTML)
    assert bad.status_code == 422 and bad.context["form"]["username"] == "x"

    delegate = login(app, "tecnico1", "una-clave-larga-del-tecnico")
    body = {"document_type": "DNI", "document_number": "44556677", "reason": "dispensing",
            "attest": True}
    answer = delegate.post("/api/v1/lookup", json=body)
    assert answer.status_code == 200 and answer.json()["status"] == "found", answer.text
    by_delegate = _audit(session, "pdmp.lookup")[-1]
    assert by_delegate.actor == "tecnico1" and by_delegate.details["on_behalf_of"] == "farmacia"
    assert _audit(session, "pdmp.lookup_by_delegate")[-1].actor == "farmacia"
    # A delegate sees no other page, and a revoked delegation ends at once.
    assert delegate.get("/api/v1/delegates").status_code == 403
    principal.post("/delegados/tecnico1/revocar", follow_redirects=False)
    session.expire_all()
    assert session.scalars(select(User).where(User.username == "tecnico1")).one().active is False
    assert delegate.post("/api/v1/lookup", json=body).status_code in (401, 403, 422)



def test_my_prescriptions_come_a_page_at_a_time(app, world, session, now):
    """A busy prescriber's 180 days are paged (25 a page), newest first, with totals."""
    from centinela.web.views.prescriber import PER_PAGE

    for i in range(PER_PAGE + 7):
        session.add(Movement(event_id=f"PG-{i}", event_type="dispense",
                             occurred_at=now - dt.timedelta(hours=i + 1),
                             establishment_id="EST-LIM-F1", product_code="FEN-AMP", quantity=1,
                             prescription_id=f"RP-{i}", prescriber_id="CMP-000001",
                             content_hash=f"{i:032d}"))
    session.commit()
    client = login(app, "medico")
    first = client.get("/api/v1/my/prescriptions").json()
    assert first["total"] >= PER_PAGE + 7 and first["shown"] == PER_PAGE and first["page"] == 1
    assert first["dispensations"][0]["prescription_id"] == "RP-0"  # newest first
    last = client.get(f"/api/v1/my/prescriptions?p={first['pages']}").json()
    assert last["page"] == first["pages"] and 1 <= last["shown"] <= PER_PAGE
    assert (first["pages"] - 1) * PER_PAGE + last["shown"] == first["total"]
    page = client.get("/mis-recetas?p=2", headers=HTML)
    assert page.status_code == 200 and 'id="mine-pager"' in page.text
