"""JSON API and pages of the public channels: report with challenge, status, add-info, abuse
protection, no raw IP or user agent stored, analyst triage (roles, audit), services, assistant."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from centinela.accounts.models import User
from centinela.audit import AuditEntry
from centinela.config import get_settings

UA = "Mozilla/5.0 (UniqueReporterBrowser-7f3a)"


@pytest.fixture
def public_env(monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_MIN_SUBMIT_SECONDS", "0")
    monkeypatch.setenv("CENTINELA_PUBLIC_SMS_WEBHOOK_SECRET", "sms-secret-123")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def app(engine, public_env, now):
    from centinela.web.app import create_app

    app = create_app(engine)
    app.state.public_clock = lambda: now
    users = {r: User(username=f"u_{r}", role=r, password_hash="x", departments=["15"],
                     created_at=now) for r in ("admin", "national_analyst", "regional_analyst",
                                               "pharmacist")}
    app.state.user_resolver = lambda request, session: users.get(
        request.headers.get("x-test-role", ""))
    return app


@pytest.fixture
def client(app):
    with TestClient(app, headers={"User-Agent": UA}) as c:
        yield c


def challenge(client) -> dict:
    ch = client.get("/api/v1/reports/challenge").json()
    a, b = (int(x) for x in ch["question"].split("+"))
    return {"token": ch["token"], "answer": str(a + b)}


def file_report(client, **fields) -> dict:
    body = {"kind": "fentanyl_no_rx", "ubigeo": "150101", "text": "venden ampollas sin receta",
            "challenge": challenge(client), **fields}
    resp = client.post("/api/v1/reports", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def csrf(client) -> str:
    """Return this client's CSRF token (the middleware sets the cookie on any page)."""
    if not client.cookies.get("centinela_csrf"):
        client.get("/asistente")
    return client.cookies.get("centinela_csrf")


def all_stored_text(session) -> str:
    parts = []
    for table in inspect(session.get_bind()).get_table_names():
        for row in session.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
            parts.extend(str(v) for v in row)
    return " ".join(parts)


def test_report_status_and_add_info_round_trip(client, session):
    made = file_report(client, establishment_name="Botica Sol", contact="@vendedor_x")
    assert made["central_denuncias"]["phone"] == "1818"
    status = client.get(f"/api/v1/reports/status/{made['code']}").json()
    assert status["status"] == "received" and status["report_id"] == made["report_id"]
    photo = base64.b64encode(b"not an image at all").decode()
    bad = client.post(f"/api/v1/reports/status/{made['code']}/info",
                      json={"text": "", "photo_base64": photo})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "photo"
    ok = client.post(f"/api/v1/reports/status/{made['code']}/info", json={"text": "abre de noche"})
    assert ok.status_code == 200 and ok.json()["additions"] == 1
    assert client.get("/api/v1/reports/status/AAAA-BBBB-CCCC-DDDD-EEEE").status_code == 404


def test_no_raw_ip_or_user_agent_is_stored(client, session):
    file_report(client)
    client.post("/api/v1/assistant/ask", json={"question": "que es el fentanilo"})
    session.expire_all()
    stored = all_stored_text(session)
    assert "testclient" not in stored and "UniqueReporterBrowser" not in stored


def test_challenge_honeypot_speed_and_replay(client, app, now, monkeypatch):
    body = {"kind": "pills", "ubigeo": "150101", "text": "pastillas"}
    ch = challenge(client)
    wrong = client.post("/api/v1/reports", json={**body, "challenge": {**ch, "answer": "999"}})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "answer"
    assert "suma" in wrong.json()["error"]["message"]  # Spanish first, says what to do
    assert client.post("/api/v1/reports", json={**body, "challenge": ch}).status_code == 201
    replay = client.post("/api/v1/reports", json={**body, "challenge": ch})
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "replay"
    monkeypatch.setenv("CENTINELA_PUBLIC_MIN_SUBMIT_SECONDS", "3")
    get_settings.cache_clear()
    fast = client.post("/api/v1/reports", json={**body, "challenge": challenge(client)})
    assert fast.status_code == 400 and fast.json()["error"]["code"] == "too_fast"
    assert "too fast" not in fast.json()["error"]["message"]
    ch = challenge(client)
    app.state.public_clock = lambda: now + dt.timedelta(seconds=5)
    assert client.post("/api/v1/reports", json={**body, "challenge": ch}).status_code == 201
    # Web form: the hidden honeypot field filled by a bot is refused.
    page = client.get("/reportar").text
    token = page.split('name="challenge_token" value="')[1].split('"')[0]
    q = page.split("¿cuánto es ")[1].split("?")[0]
    answer = sum(int(x) for x in q.split("+"))
    bot = client.post("/reportar", data={**body, "challenge_token": token, "csrf_token": csrf(client),
                                         "challenge_answer": answer, "website": "http://spam"})
    assert bot.status_code == 422 and "followup-code" not in bot.text


def test_rate_limit_per_client_per_day(client, monkeypatch):
    monkeypatch.setenv("CENTINELA_PUBLIC_REPORTS_PER_DAY", "2")
    get_settings.cache_clear()
    file_report(client)
    file_report(client)
    resp = client.post("/api/v1/reports", json={"kind": "pills", "ubigeo": "150101",
                                                "text": "x", "challenge": challenge(client)})
    assert resp.status_code == 429


def test_validation_errors_say_where(client):
    resp = client.post("/api/v1/reports", json={"kind": "pills", "ubigeo": "999999", "text": "x",
                                                "challenge": challenge(client)})
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "ubigeo"


def test_web_form_submit_shows_code_in_spanish_and_english(client):
    page = client.get("/reportar?lang=en").text
    assert "Anonymous report" in page and "1818" in page
    token = page.split('name="challenge_token" value="')[1].split('"')[0]
    q = page.split("what is ")[1].split("?")[0]
    resp = client.post("/reportar?lang=en", data={
        "csrf_token": csrf(client), "kind": "online_offer", "ubigeo": "150132", "text": "offer on facebook",
        "contact": "facebook.com/seller", "challenge_token": token,
        "challenge_answer": str(sum(int(x) for x in q.split("+")))})
    assert resp.status_code == 200 and 'id="followup-code"' in resp.text
    assert "Report received" in resp.text
    code = resp.text.split('id="followup-code">')[1].split("<")[0].strip()
    status = client.post("/reportar/seguimiento", data={"code": code, "csrf_token": csrf(client)})
    assert status.status_code == 200 and 'id="report-status"' in status.text
    assert "en revisión" not in status.text


def test_cascading_places(client):
    provs = client.get("/api/v1/places?department=05").json()["places"]
    assert {"code": "0501", "name": "Huamanga"} in provs
    html = client.get("/reportar/lugares?province=0501").text
    assert 'value="050101"' in html and "Ayacucho" in html


def test_analyst_triage_requires_role_scopes_region_and_audits(client, session):
    lima = file_report(client)
    file_report(client, ubigeo="040101")
    assert client.get("/api/v1/analyst/reports").status_code == 401
    assert client.get("/api/v1/analyst/reports",
                      headers={"x-test-role": "pharmacist"}).status_code == 403
    national = client.get("/api/v1/analyst/reports", headers={"x-test-role": "national_analyst"})
    assert len(national.json()["reports"]) == 2
    regional = client.get("/api/v1/analyst/reports", headers={"x-test-role": "regional_analyst"})
    assert [r["ubigeo"] for r in regional.json()["reports"]] == ["150101"]
    page = client.get("/analista/reportes", headers={"x-test-role": "regional_analyst"})
    assert page.status_code == 200 and lima["report_id"] in page.text
    # Staff page, staff layout: the analyst menu and sign-out, not the citizen site's frame.
    assert 'class="top"' in page.text and 'href="/alerts"' in page.text
    assert 'action="/logout"' in page.text and "/reportar/public.js" not in page.text
    moved = client.post(f"/api/v1/analyst/reports/{lima['report_id']}/status",
                        json={"status": "in_review", "note": "Revisando"},
                        headers={"x-test-role": "national_analyst"})
    assert moved.status_code == 200
    bad = client.post(f"/api/v1/analyst/reports/{lima['report_id']}/status",
                      json={"status": "received"}, headers={"x-test-role": "national_analyst"})
    assert bad.status_code == 409
    seen = client.get(f"/api/v1/reports/status/{lima['code']}").json()
    assert seen["status"] == "in_review" and seen["timeline"][-1]["note"] == "Revisando"
    session.expire_all()
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "citizen_report.list" in actions and "citizen_report.status" in actions


def test_services_nearest_and_admin_adds_csmc(client):
    near = client.get("/api/v1/services/nearest?ubigeo=050101&limit=3").json()
    assert near["place"].startswith("Ayacucho") and len(near["services"]) == 3
    assert near["services"][0]["distance_km"] <= near["services"][1]["distance_km"]
    assert "MIT" in near["services"][0]["licence"]
    body = {"name": "CSMC Huamanga Demo", "ubigeo": "050101", "kind": "csmc",
            "latitude": -13.1603, "longitude": -74.2253, "phone": "066-000000"}
    assert client.post("/api/v1/services", json=body,
                       headers={"x-test-role": "national_analyst"}).status_code == 403
    made = client.post("/api/v1/services", json=body, headers={"x-test-role": "admin"})
    assert made.status_code == 201
    near = client.get("/api/v1/services/nearest?ubigeo=050101&kind=csmc").json()
    assert near["services"][0]["name"] == "CSMC Huamanga Demo"
    assert near["services"][0]["distance_km"] < 0.5
    bad = client.post("/api/v1/services", json={**body, "ubigeo": "999999"},
                      headers={"x-test-role": "admin"})
    assert bad.status_code == 422 and "ubigeo" in bad.json()["error"]["message"]
    assert "Huamanga" in client.get("/servicios?ubigeo=050101").text


def test_assistant_api_contract(client):
    resp = client.post("/api/v1/assistant/ask", json={"question": "what is naloxone?"}).json()
    assert {"answer", "sources", "red_flag", "confidence", "language"} <= set(resp)
    assert resp["language"] == "en" and resp["entry_id"] == "naloxone" and resp["sources"]
    flag = client.post("/api/v1/assistant/ask", json={"question": "quiero morir"}).json()
    assert flag["red_flag"] == "suicide" and "113" in flag["answer"]
    chat = client.post("/asistente/mensaje", data={"question": "mi hijo se tragó un parche"},
                       headers={"X-CSRF-Token": csrf(client)})
    assert 'data-red-flag="child"' in chat.text and "106" in chat.text


def test_sms_webhook_json_and_twiml(client):
    assert client.post("/api/v1/reports/sms/wrong", json={}).status_code == 404
    j = client.post("/api/v1/reports/sms/sms-secret-123",
                    json={"from": "+51911222333", "text": "DENUNCIA 150101: venden fentanilo"})
    assert j.status_code == 200 and "código" in j.json()["reply"]
    x = client.post("/api/v1/reports/sms/sms-secret-123",
                    data={"From": "+51911222333", "Body": "ayuda"})
    assert x.headers["content-type"].startswith("application/xml")
    assert "<Response><Message>" in x.text and "DENUNCIA" in x.text


def test_every_public_template_key_exists_in_both_languages():
    import re
    from pathlib import Path

    from centinela.public.models import REPORT_HOWS, REPORT_KINDS, REPORT_STATUSES
    from centinela.web.i18n import catalogs

    folder = Path(__file__).resolve().parents[1] / "src/centinela/web/templates/public"
    keys = set()
    for path in folder.glob("*.html"):
        keys |= set(re.findall(r"t\(['\"](pub\.[a-z_0-9.]*[a-z0-9])['\"]", path.read_text()))
    keys |= {f"pub.kind.{k}" for k in REPORT_KINDS} | {f"pub.how.{h}" for h in REPORT_HOWS}
    keys |= {f"pub.status.{s}" for s in REPORT_STATUSES}
    cats = catalogs()
    missing = sorted(k for k in keys for lang in ("es", "en") if k not in cats[lang])
    assert len(keys) > 60 and not missing, missing


def test_numeric_challenge_answer_is_accepted(client):
    ch = challenge(client)
    body = {"kind": "pills", "ubigeo": "150101", "text": "venden pastillas",
            "challenge": {"token": ch["token"], "answer": int(ch["answer"])}}
    assert client.post("/api/v1/reports", json=body).status_code == 201
    wrong = {**body, "challenge": {**challenge(client), "answer": True}}
    assert client.post("/api/v1/reports", json=wrong).status_code == 422


def test_malformed_json_says_what_is_wrong_in_both_languages(client):
    bad = b'{"kind": "pills",\n "ubigeo": 150101,\n "text": "x" "y"}'
    es = client.post("/api/v1/reports", content=bad, headers={"content-type": "application/json"})
    assert es.status_code == 422
    err = es.json()["error"]
    assert err["field"] == "body" and "JSON inválido" in err["message"]
    assert "línea 3" in err["message"] and "columna" in err["message"]
    en = client.post("/api/v1/reports?lang=en", content=bad,
                     headers={"content-type": "application/json"})
    assert "Invalid JSON at line 3" in en.json()["error"]["message"]
    listed = client.post("/api/v1/reports", content=b"[1, 2]",
                         headers={"content-type": "application/json"})
    assert listed.json()["error"] == {"field": "body", "message": "El cuerpo de la solicitud "
                                                                  "debe ser un objeto JSON."}


def test_establishment_name_is_redacted_before_storage_and_the_alert(client, session):
    from centinela.alerts.models import Alert

    made = file_report(client, kind="suspicious_pharmacy", text="vende fentanilo",
                       establishment_name="mi nombre es Carla Ruiz, DNI 45678912")
    dump = all_stored_text(session)
    assert "Carla" not in dump and "45678912" not in dump
    alert = session.scalar(select(Alert).where(Alert.detector == "citizen_report"))
    assert "Carla" not in str(alert.evidence) and made["report_id"] in str(alert.evidence)


def test_the_contact_field_is_for_the_seller_only(client):
    body = {"kind": "pills", "ubigeo": "150101", "text": "venden pastillas",
            "contact": "mi cel 987654321", "challenge": challenge(client)}
    resp = client.post("/api/v1/reports", json=body)
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["field"] == "contact" and "vendedor" in err["message"]
