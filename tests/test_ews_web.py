"""EWS API and pages through the real app (roles, JSON twins, audit of reads)."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from centinela.accounts.models import User
from centinela.audit import AuditEntry
from centinela.db import session_scope
from centinela.ews.signals import record_signal
from centinela.web.app import create_app

ISO = "OIOQREYBGDAYGT-UHFFFAOYSA-N"


@pytest.fixture
def client(engine, now):
    with session_scope(engine) as s:
        for name, role, depts in (("ana", "national_analyst", []), ("reg", "regional_analyst", ["04"]),
                                  ("lab", "institution", []), ("doc", "prescriber", []),
                                  ("poli", "police", [])):
            s.add(User(username=name, password_hash="x", role=role, departments=depts,
                       created_at=now))
        record_signal(s, "lab", "S1", now - dt.timedelta(days=2), ubigeo="150101",
                      substance="isotonitazene", inchikey=ISO, payload={"category": "nitazene"})
        record_signal(s, "overdose", "H:E1", now - dt.timedelta(days=1), ubigeo="040101",
                      substance="fentanyl", inchikey="PJMPHNIQZUBGLI-UHFFFAOYSA-N",
                      payload={"setting": "icu", "age_band": "30-39", "sex": "F"})
    app = create_app(engine)
    app.state.clock = lambda: now
    who = {"user": None}

    def resolver(request, session):
        return session.scalar(select(User).where(User.username == who["user"])) if who["user"] else None

    app.state.user_resolver = resolver
    c = TestClient(app)
    c.as_user = lambda name: who.update(user=name)
    return c


def test_classify_api_roles_and_explanations(client):
    body = {"query": "CCC(=O)N(c1ccc(F)cc1)C1CCN(CCc2cccs2)CC1"}
    assert client.post("/api/v1/ews/classify", json=body).status_code == 401
    client.as_user("doc")
    assert client.post("/api/v1/ews/classify", json=body).status_code == 403
    client.as_user("lab")  # laboratory service account may classify
    r = client.post("/api/v1/ews/classify", json=body)
    assert r.status_code == 200
    data = r.json()
    assert data["category"] == "fentanyl_related" and data["matched_clauses"] == ["A", "D"]
    batch = client.post("/api/v1/ews/classify", json={"queries": ["NPP", "brorphine"]}).json()
    assert [x["category"] for x in batch["results"]] == ["precursor", "brorphine_like"]
    assert client.get("/api/v1/ews/signals").status_code == 403  # lab accounts stop here


def test_signals_dashboard_substances_are_scoped_and_audited(client, engine):
    client.as_user("ana")
    r = client.get("/api/v1/ews/signals")
    assert r.status_code == 200 and r.json()["count"] == 2
    client.as_user("reg")
    only = client.get("/api/v1/ews/signals").json()["signals"]
    assert [s["department"] for s in only] == ["04"]
    assert client.get("/api/v1/ews/signals?department=15").status_code == 403
    dash = client.get("/api/v1/ews/dashboard").json()
    assert dash["counts"]["signals"] == 1
    client.as_user("ana")
    subs = client.get("/api/v1/ews/substances").json()["substances"]
    iso = next(s for s in subs if s["inchikey"] == ISO)
    assert iso["signals"] == 1 and iso["first_seen"]
    detail = client.get(f"/api/v1/ews/substances/{ISO}").json()
    assert detail["classification"]["category"] == "nitazene"
    assert client.get("/api/v1/ews/substances/NOPE").status_code == 404
    with session_scope(engine) as s:
        actions = [e.action for e in s.scalars(select(AuditEntry))]
    assert actions.count("ews.signals.read") >= 2 and "ews.substance.read" in actions


def test_tier_api(client):
    client.as_user("poli")
    r = client.post("/api/v1/ews/tier", json={"substance": "carfentanil", "net_mass_mg": 3.5})
    assert r.status_code == 200
    d = r.json()
    assert d["tier"] == "aggravated" and "297" in d["article"] and d["applies"]
    assert "asesoría legal" in d["disclaimer_es"]
    assert client.post("/api/v1/ews/tier", json={"units": 2}).status_code == 422


def test_bulletins_api_pages_pdf_and_export(client):
    client.as_user("poli")  # police may read but not issue
    assert client.post("/api/v1/ews/bulletins", json={"substance": "isotonitazene"}).status_code == 403
    client.as_user("ana")
    r = client.post("/api/v1/ews/bulletins", json={"substance": "isotonitazene"})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    assert number == "EWS-2025-0001"
    assert client.get("/api/v1/ews/bulletins").json()["bulletins"][0]["number"] == number
    assert "Recomendaciones" in client.get(f"/api/v1/ews/bulletins/{number}").json()["html"]
    page = client.get(f"/ews/bulletins/{number}")
    assert page.status_code == 200 and "isotonitaceno" in page.text
    # The delivery status in words (it read "Envío: queued").
    assert ": queued" not in page.text and ("en cola para las autoridades" in page.text
                                            or "sin autoridad a quien enviarlo" in page.text)
    assert "Recomendaciones" in page.text and 'id="as-issued"' not in page.text
    # In English the page's own words are English; the bulletin's text is said to be as issued.
    en = client.get(f"/ews/bulletins/{number}?lang=en")
    assert "Recommendations" in en.text and "Recomendaciones" not in en.text
    assert 'id="as-issued"' in en.text and "From " in en.text
    pdf = client.get(f"/ews/bulletins/{number}.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client.get("/ews/bulletins/EWS-1999-0001").status_code == 404
    doc = client.get("/api/v1/ews/export").json()
    assert doc["count"] == 2 and {i["type"] for i in doc["incidents"]} == {
        "forensic_identification", "overdose"}
    client.as_user("reg")
    assert client.get("/api/v1/ews/export").json()["count"] == 1


def test_pages_render(client):
    client.as_user("ana")
    html = client.get("/ews").text
    assert "Sistema de alerta temprana" in html and "isotonitaceno" in html  # Spanish names
    assert "isotonitazene" in client.get("/ews?lang=en").text  # and English ones in English
    r = client.get("/ews/classify", params={"q": "ocfentanil"})
    assert r.status_code == 200 and 'data-category="listed_fentanyl_analogue"' in r.text
    assert "(E) N-propionilo" in r.text
    assert client.get(f"/ews/substances/{ISO}").status_code == 200
    assert client.get("/ews/bulletins").status_code == 200
    assert client.get("/ews/classify?q=fentanyl&lang=en").text.count("Fentanyl") >= 1
    client.as_user("doc")
    assert client.get("/ews", headers={"accept": "application/json"}).status_code == 403


def test_issue_form_needs_csrf_and_redirects(client):
    client.as_user("ana")
    page = client.get("/ews/bulletins")
    assert "Emitir boletín" in page.text
    token = client.cookies.get("centinela_csrf")
    form = {"substance": "isotonitazene", "department": "", "alert_id": "", "days": "30"}
    assert client.post("/ews/bulletins", data=form, follow_redirects=False).status_code == 403
    r = client.post("/ews/bulletins", data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ews/bulletins/EWS-2025-0001"
    assert "isotonitaceno" in client.get(r.headers["location"]).text
