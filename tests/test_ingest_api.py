"""Intake API: JSON batches, uploads (files and .zip), reports and rejections (JSON and CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from centinela.accounts.models import User
from centinela.audit import AuditEntry
from centinela.ingest.fields import SPECS
from centinela.web.app import create_app
from tests.ingest_support import ESTABLISHMENTS, PRODUCTS, PROFESSIONALS, movement

T = "2025-03-01T10:00:00-05:00"


def _csv(stem: str, rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(SPECS[stem].base_fields))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


@pytest.fixture
def client_as(engine):
    app = create_app(engine)

    def make(role: str | None, username: str = "svc-minsa") -> TestClient:
        user = None if role is None else User(username=username, role=role, password_hash="x",
                                              created_at=dt.datetime(2025, 1, 1))
        app.state.user_resolver = lambda request, session: user
        # Machines authenticate with a bearer token (CSRF-exempt); the resolver above decides.
        return TestClient(app, headers={"Authorization": "Bearer test-token"})

    return make


def _load_registry(client: TestClient) -> None:
    for stem, rows in (("establishments", ESTABLISHMENTS), ("professionals", PROFESSIONALS),
                       ("products", PRODUCTS)):
        r = client.post(f"/api/v1/{stem}", json={"records": rows})
        assert r.status_code == 200 and r.json()["totals"]["accepted"] == len(rows), r.text


def test_roles_guard_every_endpoint(client_as):
    assert client_as(None).post("/api/v1/movements", json={"records": []}).status_code == 401
    assert client_as("police").post("/api/v1/movements", json={"records": []}).status_code == 403
    assert client_as("pharmacist").get("/api/v1/imports/1").status_code == 403


def test_post_movements_batch_and_read_back_its_rejections(client_as):
    client = client_as("institution")
    _load_registry(client)
    body = {"records": [
        movement("W1", "receipt", T, "EST-HOS", "4", counterparty_id="EST-DIS"),
        movement("W2", "administer", T, "EST-HOS", "0.5", patient_id="DNI:63829174"),
        movement("W3", "dispense", T, "EST-FAR", "1", patient_id="DNI:63829174"),
    ]}
    r = client.post("/api/v1/movements", json=body)
    assert r.status_code == 200
    report = r.json()
    assert report["channel"] == "api" and report["totals"]["accepted"] == 2
    assert report["files"][0]["rejections"][0]["field"] == "prescription_id"
    again = client.post("/api/v1/movements", json=body).json()
    assert again["totals"]["duplicates"] == 2 and again["totals"]["accepted"] == 0

    run = client.get(f"/api/v1/imports/{report['import_id']}").json()
    assert run["accepted"] == 2 and run["rejected"] == 1 and run["submitted_by"] == "svc-minsa"
    rej = client.get(f"/api/v1/imports/{report['import_id']}/rejections").json()
    assert rej["total"] == 1 and rej["rejections"][0]["line"] == 3
    assert rej["rejections"][0]["record"]["patient_id"].startswith("PSN:")
    download = client.get(f"/api/v1/imports/{report['import_id']}/rejections.csv")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert rows[0]["field"] == "prescription_id" and "63829174" not in download.text
    listing = client.get("/api/v1/imports").json()["imports"]
    assert listing[0]["import_id"] == again["import_id"]


def test_bad_body_is_422(client_as):
    client = client_as("admin")
    assert client.post("/api/v1/movements", json={"rows": []}).status_code == 422
    assert client.post("/api/v1/movements", json={"records": []}).status_code == 422


def test_upload_files_and_zip(client_as, engine):
    client = client_as("national_analyst")
    files = [("files", ("establishments.csv", _csv("establishments", ESTABLISHMENTS))),
             ("files", ("professionals.csv", _csv("professionals", PROFESSIONALS))),
             ("files", ("products.csv", _csv("products", PRODUCTS)))]
    r = client.post("/api/v1/imports", files=files)
    assert r.status_code == 200 and r.json()["channel"] == "upload"
    assert r.json()["totals"]["accepted"] == 10

    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("lote/movements.csv", _csv("movements", [
            movement("Z1", "receipt", T, "EST-HOS", "4", counterparty_id="EST-DIS")]))
        z.writestr("leeme.txt", "hola")
    r = client.post("/api/v1/imports", files=[("files", ("envio.zip", zbuf.getvalue()))])
    body = r.json()
    assert r.status_code == 200 and body["totals"]["accepted"] == 1
    assert body["ignored_files"] == ["leeme.txt"]
    bad = client.post("/api/v1/imports", files=[("files", ("notas.txt", b"x"))])
    assert bad.status_code == 422 and "no reporting-format file" in bad.json()["detail"]


def test_institution_sees_only_its_own_imports_and_reads_are_audited(client_as, session):
    mine = client_as("institution", "svc-a")
    r = mine.post("/api/v1/establishments", json={"records": ESTABLISHMENTS[:1]})
    import_id = r.json()["import_id"]
    other = client_as("institution", "svc-b")
    assert other.get(f"/api/v1/imports/{import_id}").status_code == 404
    assert other.get(f"/api/v1/imports/{import_id}/rejections").status_code == 404
    assert client_as("admin").get(f"/api/v1/imports/{import_id}").status_code == 200
    mine.get(f"/api/v1/imports/{import_id}/rejections")
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions == ["import.rejections.read"]
