"""Regressions found by walking the demo as a new user (each failed before its fix)."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.ledger.records import Seizure
from tests.web_support import login

HTML = {"accept": "text/html"}


def test_a_seized_serial_never_recorded_in_movements_has_a_profile(app, world, session, now):
    # The alert list links every serial subject to its profile; a seizure_trace alert about a
    # serial absent from the movements used to lead to a 404 (dead link).
    when = now - dt.timedelta(days=3)
    session.add(Seizure(seizure_id="INC-X-1", occurred_at=when, ubigeo="150101",
                        agency="PNP-DIRANDRO", serial="SN-GHOST-1", lot="L-GHOST",
                        content_hash="x" * 32))
    upsert_alert(session, AlertDraft("seizure_trace", "serial", "SN-GHOST-1", "medium", 42.0,
                                     when, when, "Serie incautada sin movimientos.",
                                     {"seizure_id": "INC-X-1"}, department="15"), now=now)
    session.commit()
    r = login(app, "analista").get("/profiles/serial/SN-GHOST-1", headers=HTML)
    assert r.status_code == 200
    # Lists read the alert's sentence in the page's language (not the stored summary).
    assert "INC-X-1" in r.text and "no aparece en ningún movimiento registrado" in r.text
    assert "Movimientos registrados" in r.text
    assert login(app, "lima").get("/profiles/serial/SN-GHOST-1", headers=HTML).status_code == 200
    # Outside the region's reach it stays hidden, and unknown serials are still 404.
    assert login(app, "piura").get("/profiles/serial/SN-GHOST-1", headers=HTML).status_code == 404
    assert login(app, "analista").get("/profiles/serial/NOPE-1").status_code == 404


def test_a_refused_lookup_keeps_the_reason_note_and_attestation(app, world):
    client = login(app, "farmacia")
    r = client.post("/lookup", data={"document_type": "DNI", "document_number": "1234",
                                     "reason": "emergency_care", "note": "paciente en urgencias",
                                     "attest": "on"}, headers=HTML)
    assert r.status_code == 422
    assert 'value="emergency_care" selected' in r.text
    assert 'value="paciente en urgencias"' in r.text
    assert 'name="attest" required checked' in r.text
    assert "1234" not in r.text  # the document number is still never echoed back


def test_account_errors_are_shown_in_spanish_on_the_delegates_and_admin_pages(app, world):
    r = login(app, "medico").post("/delegados", data={
        "username": "ayudante1", "full_name": "Ana Ayudante", "password": "corta"}, headers=HTML)
    assert r.status_code == 422
    assert "Contraseña: al menos 12 caracteres." in r.text
    assert "at least" not in r.text
    assert 'value="ayudante1"' in r.text  # the form keeps what was typed
    r = login(app, "admin").post("/admin/users", data={
        "username": "nueva.analista", "password": "una-clave-bastante-larga", "role": "regional_analyst",
        "departments": "", "full_name": "N A"}, headers=HTML)
    assert r.status_code == 422
    assert "un analista regional necesita al menos un departamento" in r.text
    from centinela.web.i18n import account_error
    assert account_error("password: at least 12 characters", "en") == \
        "Password: at least 12 characters."
    assert account_error("something new", "es") == "something new"


def test_admin_sees_a_college_number_missing_from_the_registry(app, world):
    # The account is made (the registry may come later), but the users table says when its
    # college number is not in the professionals registry, or is there with another role.
    admin = login(app, "admin")
    for name, role, pid in (("dra.ok", "prescriber", "CMP-000001"),
                            ("dr.typo", "prescriber", "CMP-999999"),
                            ("qf.rol", "pharmacist", "CMP-000002")):
        r = admin.post("/admin/users", data={"username": name, "password": "una-clave-bastante-larga",
                                             "role": role, "professional_id": pid,
                                             "full_name": name}, headers=HTML)
        assert r.status_code in (200, 303), r.text
    rows = {u["username"]: u for u in admin.get("/api/v1/admin/users").json()["users"]}
    assert rows["dra.ok"]["registry_issue"] == ""
    assert rows["dr.typo"]["registry_issue"] == "unregistered"
    assert rows["qf.rol"]["registry_issue"] == "other_role"
    page = admin.get("/admin?lang=es", headers=HTML).text
    assert "no está en el registro de profesionales" in page and "registrado con otro rol" in page


def test_alert_evidence_is_labelled_in_spanish_with_yes_no_not_python_literals(app, world,
                                                                                session, now):
    when = now - dt.timedelta(days=2)
    alert, _ = upsert_alert(session, AlertDraft(
        "unauthorized_receiver", "establishment", "EST-DIST", "high", 80.0, when, when,
        "Receptor no autorizado.", {"authorized_controlled": False, "establishment_known": True,
                                    "authorization_expires": None, "brand_new_key": 3},
        department="15"), now=now)
    session.commit()
    r = login(app, "analista").get(f"/alerts/{alert.alert_id}", headers=HTML)
    assert r.status_code == 200
    table = r.text.split("kv")[1].split("</table>")[0]
    assert "Autorizado para controlados" in table and "Establecimiento registrado" in table
    assert ">No<" in table and ">Sí<" in table and ">—<" in table
    assert "True" not in table and "False" not in table and "None" not in table
    assert "brand_new_key" in table  # a key without a label still shows, as it is
    api = login(app, "analista").get(f"/api/v1/alerts/{alert.alert_id}").json()
    assert api["evidence"]["authorized_controlled"] is False  # the API keeps the raw values


def test_a_refused_customs_outcome_is_explained_in_spanish_and_keeps_the_form(
        app, world, session, now, tmp_path):
    from centinela.customs.generate import generate, write
    from centinela.customs.intake import import_parcels_file
    from centinela.customs.review import queue
    from centinela.customs.triage import triage

    write(generate(40, seed=3), tmp_path / "gen", images=0, seed=3)
    import_parcels_file(session, tmp_path / "gen" / "parcels.csv", None)
    triage(session, now)
    session.commit()
    tid = queue(session, limit=1)[0].tracking_id
    client = login(app, "aduana")
    r = client.post(f"/customs/parcels/{tid}/outcome", data={
        "outcome": "seized", "substance": "", "net_mass_mg": "12,5", "purity_percent": "",
        "note": "caja con doble fondo"}, headers=HTML)
    assert r.status_code == 422
    assert "Sustancia: indique lo encontrado" in r.text and "name what was found" not in r.text
    assert 'value="seized" selected' in r.text and 'value="12,5"' in r.text
    assert "caja con doble fondo</textarea>" in r.text
    r = client.post(f"/customs/parcels/{tid}/outcome", data={
        "outcome": "seized", "substance": "fentanilo", "net_mass_mg": "doce"}, headers=HTML)
    assert r.status_code == 422 and "no es un número" in r.text


def test_alert_pages_name_detectors_in_spanish_not_by_their_code(app, world, session, now):
    when = now - dt.timedelta(days=2)
    alert, _ = upsert_alert(session, AlertDraft(
        "seizure_trace", "lot", "L2025A", "medium", 40.0, when, when, "Lote incautado.", {},
        department="15"), now=now)
    session.commit()
    client = login(app, "analista")
    inbox = client.get("/alerts", headers=HTML).text
    assert ">Incautación rastreada<" in inbox
    detail = client.get(f"/alerts/{alert.alert_id}", headers=HTML).text
    assert "Incautación rastreada" in detail
    assert "Seized lot or serial traced" in client.get(f"/alerts/{alert.alert_id}?lang=en",
                                                         headers=HTML).text
    assert "Incautación rastreada" in client.get("/profiles/lot/L2025A", headers=HTML).text
    from centinela.web.i18n import detector_label
    assert detector_label("not_a_detector") == "not_a_detector"  # unregistered: the code
    assert "regional_outlier" not in client.get("/map", headers=HTML).text.split("<table")[0]


def test_error_pages_explain_in_spanish(app, world):
    client = login(app, "analista")
    r = client.get("/profiles/serial/NO-SUCH-SERIAL", headers=HTML)
    assert r.status_code == 404
    assert "no existe o está fuera de su ámbito" in r.text
    assert "outside your reach" not in r.text
    r = login(app, "medico").get("/admin", headers=HTML)
    assert r.status_code == 403 and "su rol no da acceso a esta página" in r.text
    r = client.get("/profiles/serial/NO-SUCH-SERIAL?lang=en", headers=HTML)
    assert "not found or outside your reach" in r.text


def test_a_refused_access_request_keeps_the_case_and_reason(app, world):
    r = login(app, "policia").post("/access", data={
        "case_number": "CF-2026-118", "reason": "corta", "document_type": "CE",
        "document_number": "001234567"}, headers=HTML)
    assert r.status_code == 422
    assert 'value="CF-2026-118"' in r.text and ">corta</textarea>" in r.text
    assert "<option selected>CE</option>" in r.text
    assert "001234567" not in r.text


def test_a_serial_profile_names_the_last_movement_in_spanish(app, world):
    r = login(app, "analista").get("/profiles/serial/SN-0001", headers=HTML)
    assert r.status_code == 200
    facts = r.text.split('class="facts"')[1].split("</dl>")[0]
    last = facts.split("Último movimiento")[1].split("</dd>")[0]
    assert last.endswith("<dd>administración @ EST-LIM-H1")


def test_an_account_without_pages_is_told_where_its_work_is(app, world):
    """An institution signs in and had been sent back to an empty sign-in form; now the page
    says its files go through the API, with the reference linked, in the page's language."""
    client = login(app, "sistema")
    r = client.get("/", headers=HTML)
    assert r.status_code == 200 and "API" in r.text and "/api/docs" in r.text
    assert "Su cuenta no tiene páginas en la web" in r.text
    r = client.get("/?lang=en", headers=HTML)
    assert "Your account has no web pages" in r.text


def test_an_inbox_page_that_names_patients_is_an_audited_read(app, world, session, now):
    from centinela.audit import AuditEntry

    when = now - dt.timedelta(days=2)
    upsert_alert(session, AlertDraft("high_mme", "patient", "PSN:abcdef123456", "high", 80.0,
                                     when, when, "Paciente con dosis alta.", {"observed": 200},
                                     department="15"), now=now)
    session.commit()
    r = login(app, "analista").get("/alerts", headers=HTML)
    assert r.status_code == 200 and "PSN:abcdef123456" in r.text
    session.expire_all()
    entry = session.query(AuditEntry).filter_by(action="alerts.list.patient_data").one()
    assert entry.actor == "analista" and entry.details["patients"] >= 1


def test_a_database_held_by_an_import_answers_503_not_500(db_url, world, session, now):
    """SQLite has one writer: while a long import holds it, a sign-in (which records the
    attempt) used to fail with a 500 after the busy timeout. It answers 503 with Retry-After
    and words, in both the page and the API."""
    import sqlite3

    import pytest
    from sqlalchemy import create_engine

    from centinela.web.app import create_app

    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no single-writer lock")
    path = db_url.split("sqlite:///", 1)[1]
    app = create_app(create_engine(db_url, connect_args={"timeout": 0.2,
                                                         "check_same_thread": False}))
    app.state.clock = lambda: now
    client = login(app, None)  # the sign-in form and its CSRF token, before the import
    holder = sqlite3.connect(path, timeout=0.2)
    holder.execute("BEGIN EXCLUSIVE")  # as an import's transaction does while it writes
    try:
        r = client.post("/login", data={"username": "analista", "password": "x",
                                        "csrf_token": client.headers["X-CSRF-Token"]},
                        headers=HTML)
        assert r.status_code == 503 and r.headers["retry-after"] == "15"
        assert "intente de nuevo en unos segundos" in r.text
    finally:
        holder.rollback()
        holder.close()


def test_every_page_lets_a_keyboard_skip_the_menu(app, world):
    """A skip link first in the page, to the main content (15 Tab presses before the first
    filter of /alerts otherwise); the report form's coordinates have accessible names."""
    analyst = login(app, "analista")
    for client, path in ((analyst, "/alerts"), (analyst, "/map"), (login(app, None), "/reportar"),
                         (login(app, None), "/asistente")):
        text = client.get(path, headers=HTML).text
        assert text.index('class="skip-link" href="#main"') < text.index("<header")
        assert 'id="main"' in text
    form = login(app, None).get("/reportar", headers=HTML).text
    assert 'name="latitude" id="latitude" inputmode="decimal" aria-label=' in form
