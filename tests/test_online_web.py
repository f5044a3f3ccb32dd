"""API endpoints and pages of online monitoring (role guard, audit, JSON twins)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from centinela import audit
from centinela.accounts.models import User
from centinela.alerts.models import Alert
from centinela.web.app import create_app

FIX = Path(__file__).parent / "fixtures" / "online"


def _client(engine, role: str | None) -> TestClient:
    app = create_app(engine)
    user = User(username=f"u_{role}", role=role, password_hash="x") if role else None
    app.state.user_resolver = lambda request, session: user
    client = TestClient(app)
    client.get("/healthz")  # the security middleware sets the CSRF cookie
    client.headers["X-CSRF-Token"] = client.cookies.get("centinela_csrf")
    return client


@pytest.fixture
def analyst(engine):
    return _client(engine, "national_analyst")


def test_role_guard(engine):
    assert _client(engine, None).get("/api/online/leads").status_code == 401
    assert _client(engine, "pharmacist").get("/api/online/leads").status_code == 403
    assert _client(engine, "police").get("/api/online/leads").status_code == 200


def test_classify_endpoint(analyst):
    res = analyst.post("/api/online/classify", json={"texts": [
        "Vendo fentanilo en ampollas sin receta, delivery, yape 987654321",
        "Incautan 300 ampollas de fentanilo en Tumbes, informó la PNP"]})
    assert res.status_code == 200
    a, b = res.json()["results"]
    assert a["is_offer"] and not b["is_offer"] and a["explanation"]["toward_offer"]
    assert analyst.post("/api/online/classify", json={"texts": []}).status_code == 422
    res = analyst.post("/api/online/classify", json={"texts": ["Opana ER 40mg x5"],
                                                      "context": "market"})
    got = res.json()["results"][0]
    assert got["is_offer"] and got["context"] == "market" and got["decided_by"] == "lexicon"
    assert analyst.post("/api/online/classify", json={"texts": ["x"], "context": "forum"}
                        ).status_code == 422


def test_upload_list_detail_confirm_and_pages(analyst, session):
    with open(FIX / "posts.csv", "rb") as fh:
        res = analyst.post("/api/online/ingest", files={"file": ("posts.csv", fh, "text/csv")})
    assert res.status_code == 200 and res.json()["read"] == 8
    bad = analyst.post("/api/online/ingest", files={"file": ("x.csv", b"foo,bar\n1,2\n", "text/csv")})
    assert bad.status_code == 422 and "unknown column" in bad.json()["detail"]
    leads = analyst.get("/api/online/leads").json()["leads"]
    assert leads and "identifiers" not in leads[0]
    lead_id = leads[0]["lead_id"]
    detail = analyst.get(f"/api/online/leads/{lead_id}").json()
    assert detail["identifiers"] and detail["posts"][0]["explanation"]
    assert session.scalar(select(audit.AuditEntry).where(audit.AuditEntry.action == "online.lead.read",
                                                         audit.AuditEntry.subject == lead_id))
    assert analyst.post(f"/api/online/leads/{lead_id}/confirm", json={"note": ""}).status_code == 422
    res = analyst.post(f"/api/online/leads/{lead_id}/confirm", json={"note": "confirmado"})
    assert res.status_code == 200 and res.json()["status"] == "confirmed"
    assert session.scalar(select(Alert).where(Alert.detector == "online_lead")) is not None
    assert analyst.get("/api/online/leads/LEAD-X").status_code == 404
    assert analyst.get("/online", follow_redirects=False).headers["location"] == "/online/leads"
    page = analyst.get("/online/leads")
    assert page.status_code == 200 and "Pistas de venta en línea" in page.text and lead_id in page.text
    page = analyst.get(f"/online/leads/{lead_id}?lang=en")
    assert page.status_code == 200 and "Analyst decision" in page.text and "confirmed" in page.text
    assert "Decided by" in page.text and "social post" in page.text  # which part decided, context
    # The alert the confirmation raised reads in Spanish and, placed in a department, shows no
    # dispensations of that department (no patient banner, no patient audit).
    alert = session.scalar(select(Alert).where(Alert.detector == "online_lead"))
    page = analyst.get(f"/alerts/{alert.alert_id}", headers={"accept": "text/html"}).text
    assert "Publicaciones" in page and "N posts" not in page and "Lead id" not in page
    if alert.subject_kind == "region":
        assert "Contiene datos de pacientes" not in page
        assert not session.scalar(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "alert.patient_data",
            audit.AuditEntry.subject == alert.alert_id))


def test_page_decision_form(analyst):
    with open(FIX / "whatsapp_ios.txt", "rb") as fh:
        analyst.post("/api/online/ingest", files={"file": ("whatsapp_ios.txt", fh, "text/plain")})
    lead_id = analyst.get("/api/online/leads").json()["leads"][0]["lead_id"]
    res = analyst.post(f"/online/leads/{lead_id}/decision", data={"decision": "dismiss", "note": ""})
    assert res.status_code == 422 and "Escriba una nota para confirmar o descartar" in res.text
    res = analyst.post(f"/online/leads/{lead_id}/decision",
                       data={"decision": "dismiss", "note": "paciente"}, follow_redirects=False)
    assert res.status_code == 303
    assert analyst.get(f"/api/online/leads/{lead_id}").json()["status"] == "dismissed"
