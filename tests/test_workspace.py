"""The analyst's workspace (issue 14): grouped inbox with filters, one sort model, pages,
CSV/JSON export and saved filters; numbered cases with the outcome required in the form,
attachments and scope; long evidence in pages with CSV; police access requests from an alert."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import pytest
from sqlalchemy import select

from centinela.accounts.models import AccessRequest
from centinela.alerts.case_models import Case, CaseAttachment
from centinela.alerts.models import Alert
from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.audit import AuditEntry
from centinela.ledger.records import Movement
from tests.web_support import *  # noqa: F403
from tests.web_support import login


def _move(eid, etype, est, qty, when, **kw) -> Movement:
    return Movement(event_id=eid, event_type=etype, occurred_at=when, establishment_id=est,
                    product_code="FEN-AMP", quantity=qty,
                    content_hash=hashlib.md5(eid.encode()).hexdigest(), **kw)


@pytest.fixture
def busy(session, world, now):
    """Two repeats of the prescriber alert (other windows) and a formula-like summary."""
    for i, days in enumerate((200, 300)):
        upsert_alert(session, AlertDraft(
            "prescriber_volume", "professional", "CMP-000001", "medium", 50.0 - i,
            now - dt.timedelta(days=days + 30), now - dt.timedelta(days=days),
            "Prescripción alta (repetición).", {"observed_mme": 100.0}, department="15"),
            now=now)
    upsert_alert(session, AlertDraft(
        "loss_spike", "establishment", "EST-LIM-F1", "low", 20.0,
        now - dt.timedelta(days=40), now - dt.timedelta(days=10),
        "=HYPERLINK(\"http://x\") pérdida", {}, department="15"), now=now)
    session.commit()
    return world


def test_inbox_one_line_per_subject_and_pattern_with_occurrences(app, busy):
    rows_ctx = login(app, "analista").get("/api/v1/alerts", params={"status": "all"}).json()
    assert rows_ctx["total"] == 6 and rows_ctx["total_alerts"] == 8
    line = next(r for r in rows_ctx["rows"] if r["subject_id"] == "CMP-000001")
    assert line["alerts_in_group"] == 3 and line["occurrences"] >= 3
    assert line["alert_id"] == busy["prescriber_volume"]  # the strongest alert leads the line
    page = login(app, "analista").get("/alerts?status=all").text
    assert "3 ocurrencias" in page and "Líneas 1–6 de 6" in page


def test_inbox_filters_text_dates_detector_severity_department(app, busy):
    c = login(app, "analista")

    def ids(**params):
        ctx = c.get("/api/v1/alerts", params={"status": "all", **params}).json()
        return sorted(r["detector"] for r in ctx["rows"])

    assert ids(q="faltante") == ["stock_gap"]
    assert ids(q="CMP-000001") == ["prescriber_volume"]
    assert ids(detector="region_rise") == ["region_rise"]
    assert ids(severity="critical") == ["stock_gap"]
    assert ids(department="20") == ["region_rise", "stock_gap"]
    # Alerts whose window overlaps the range: only the old repeats reach back 300 days.
    assert ids(date_to="2025-03-31") == ["prescriber_volume"]
    assert ids(date_from="2025-12-25", date_to="2025-12-31") == [  # the loss spike ended 12-21
        "lot_anomaly", "mme_high", "prescriber_volume", "region_rise", "stock_gap"]
    assert ids(date_from="2026-01-02") == []
    assert c.get("/api/v1/alerts", params={"date_from": "31/12/2025"}).status_code == 422
    # Detector names, not codes, in the filter and the rows.
    page = c.get("/alerts").text
    assert '<option value="prescriber_volume">Volumen atípico de prescriptor</option>' in page
    assert ">prescriber_volume<" not in page


def test_inbox_one_sort_model_and_pages_with_totals(app, busy):
    c = login(app, "analista")

    def scores(**params):
        return [r["score"] for r in c.get("/api/v1/alerts", params={"status": "all", **params})
                .json()["rows"]]

    assert scores() == sorted(scores(), reverse=True)
    assert scores(order="asc") == sorted(scores())
    sev = [r["severity"] for r in c.get("/api/v1/alerts", params={
        "status": "all", "sort": "severity", "order": "asc"}).json()["rows"]]
    rank = ["low", "medium", "high", "critical"]
    assert [rank.index(s) for s in sev] == sorted(rank.index(s) for s in sev)
    dets = [r["detector"] for r in c.get("/api/v1/alerts", params={
        "status": "all", "sort": "detector", "order": "asc"}).json()["rows"]]
    assert dets == sorted(dets)
    p2 = c.get("/api/v1/alerts", params={"status": "all", "per_page": 4, "page": 2}).json()
    assert (p2["total"], p2["pages"], p2["first"], p2["last"], len(p2["rows"])) == (6, 2, 5, 6, 2)
    page = c.get("/alerts?status=all&per_page=4&page=2").text
    assert "Líneas 5–6 de 6" in page
    # The column headers are the only sort control: a link per column, the active one marked.
    assert 'aria-sort="descending"' in page and 'name="sort"' not in page.split("<table")[0] \
        .replace('type="hidden" name="sort"', "")
    assert "sort=detector" in page


def test_inbox_exports_csv_and_json_of_the_filtered_list(app, busy, session):
    c = login(app, "analista")
    r = c.get("/alerts.csv", params={"status": "all", "department": "15"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    js = c.get("/alerts.json", params={"status": "all", "department": "15"}).json()
    assert len(rows) == js["total"] == js["exported"] == 4  # 3 Lima lines + the loss spike
    spike = next(x for x in rows if x["detector"] == "loss_spike")
    assert spike["summary"].startswith("'=HYPERLINK")  # formula neutralised
    pv = next(x for x in rows if x["detector"] == "prescriber_volume")
    assert pv["detector_name"] == "Volumen atípico de prescriptor"
    assert pv["alerts_in_group"] == "3"
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "inbox.export"))


def test_saved_filters_are_stored_listed_applied_and_deleted_per_user(app, busy):
    c = login(app, "analista")
    r = c.post("/saved-filters", data={"name": "Piura críticas",
                                       "query": "department=20&severity=critical&evil=1"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == \
        "/alerts?department=20&severity=critical"
    saved = c.get("/api/v1/saved-filters").json()
    assert [(s["name"], s["query"]) for s in saved] == [
        ("Piura críticas", "department=20&severity=critical")]
    page = c.get("/alerts").text
    assert 'href="/alerts?department=20&amp;severity=critical">Piura críticas' in page
    applied = c.get("/api/v1/alerts?department=20&severity=critical").json()
    assert [r["detector"] for r in applied["rows"]] == ["stock_gap"]
    other = login(app, "admin")
    assert other.get("/api/v1/saved-filters").json() == []
    assert other.post(f"/saved-filters/{saved[0]['id']}/delete").status_code == 404
    assert c.post(f"/saved-filters/{saved[0]['id']}/delete",
                  follow_redirects=False).status_code == 303
    assert c.get("/api/v1/saved-filters").json() == []


def _open_case(client, alert_id) -> str:
    r = client.post("/cases", data={"alert_id": alert_id}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[-1]


def test_case_lifecycle_with_outcome_required_inline(app, busy, session):
    c = login(app, "lima")
    number = _open_case(c, busy["prescriber_volume"])
    assert number == "CEN-2025-000001"
    assert _open_case(c, busy["prescriber_volume"]) == number  # one case per alert
    assert _open_case(c, busy["mme_high"]) == "CEN-2025-000002"
    c.get("/cases/CEN-2025-000002")  # a patient's alert: reading the case is audited
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "casefile.patient_data",
                                                   AuditEntry.subject == "case:CEN-2025-000002"))
    r = c.post(f"/cases/{number}", data={"op": "update", "assignee": "analista",
                                         "due_date": "2026-01-15", "note": "Pedir recetas"},
               follow_redirects=False)
    assert r.status_code == 303
    r = c.post(f"/cases/{number}", data={"op": "link", "alert_id": busy["lot_anomaly"]},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get(f"/cases/{number}").text
    assert "Pedir recetas" in page and "2026-01-15" in page and busy["lot_anomaly"] in page
    # Closing without an outcome: the form again, the error inline in Spanish, nothing changed.
    r = c.post(f"/cases/{number}", data={"op": "close", "outcome": "", "note": "listo"})
    assert r.status_code == 422
    assert 'id="case-error"' in r.text and "elija un resultado" in r.text
    assert 'id="case-close"' in r.text and "required" in r.text.split('id="case-outcome"')[1][:80]
    assert "409" not in r.text and "--outcome" not in r.text
    en = c.post(f"/cases/{number}?lang=en", data={"op": "close", "outcome": ""})
    assert "choose an outcome" in en.text
    session.expire_all()
    assert session.scalar(select(Case).where(Case.number == number)).status == "open"
    r = c.post(f"/cases/{number}", data={"op": "close", "outcome": "confirmed",
                                         "note": "Derivado a fiscalía"}, follow_redirects=False)
    assert r.status_code == 303
    session.expire_all()
    case = session.scalar(select(Case).where(Case.number == number))
    assert (case.status, case.outcome) == ("closed", "confirmed")
    linked = session.scalars(select(Alert).where(Alert.alert_id.in_(
        [busy["prescriber_volume"], busy["lot_anomaly"]]))).all()
    assert {(a.status, a.outcome) for a in linked} == {("closed", "confirmed")}
    # The case list per user, every case for a supervisor, CSV export.
    mine = login(app, "analista").get("/api/v1/cases", params={"status": "all"}).json()
    assert [r["number"] for r in mine["rows"]] == [number]
    assert [r["number"] for r in c.get("/api/v1/cases").json()["rows"]] == ["CEN-2025-000002"]
    every = login(app, "admin").get("/api/v1/cases?scope=all&status=all").json()
    assert every["total"] == 2
    text = login(app, "admin").get("/cases.csv?scope=all&status=all").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["number"] for r in rows} == {number, "CEN-2025-000002"}
    assert next(r for r in rows if r["number"] == number)["outcome"] == "confirmed"
    assert c.post(f"/cases/{number}", data={"op": "reopen"},
                  follow_redirects=False).status_code == 303
    session.expire_all()
    assert session.scalar(select(Case).where(Case.number == number)).status == "open"


def test_case_scope_follows_the_region(app, busy):
    lima = login(app, "lima")
    number = _open_case(lima, busy["prescriber_volume"])
    piura = login(app, "piura")
    assert piura.get(f"/cases/{number}").status_code == 404
    assert piura.get(f"/api/v1/cases/{number}").status_code == 404
    assert piura.post(f"/cases/{number}", data={"op": "close", "outcome": "confirmed"}
                      ).status_code == 404
    assert piura.post("/cases", data={"alert_id": busy["prescriber_volume"]}).status_code == 404
    assert login(app, "policia").get(f"/cases/{number}").status_code == 403
    assert login(app, "medico").get("/cases").status_code == 403
    # A Piura analyst cannot be made the assignee of a Lima case.
    r = lima.post(f"/cases/{number}", data={"op": "update", "assignee": "piura"})
    assert r.status_code == 422 and "no puede llevar este caso" in r.text


def test_case_attachments_size_type_and_audited_download(app, busy, session, tmp_path):
    c = login(app, "analista")
    number = _open_case(c, busy["stock_gap"])
    pdf = b"%PDF-1.4\n% acta de inspeccion\n"
    r = c.post(f"/cases/{number}/attachments",
               files={"file": ("../../acta inspección.pdf", pdf, "application/pdf")},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    att = session.scalar(select(CaseAttachment))
    assert att.filename == "acta inspección.pdf" and att.size == len(pdf)
    stored = list((tmp_path / "case-files").rglob("*"))
    assert any(p.is_file() and p.read_bytes() == pdf for p in stored)
    got = c.get(f"/cases/{number}/attachments/{att.id}")
    assert got.status_code == 200 and got.content == pdf
    assert got.headers["content-type"] == "application/pdf"
    assert "attachment" in got.headers["content-disposition"]
    session.expire_all()
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "casefile.download"))
    for name, data, needle in (("x.exe", b"MZ...", "Tipo de archivo no permitido"),
                               ("fake.pdf", b"<html>", "no corresponde a su tipo"),
                               ("big.txt", b"a" * (5 * 1024 * 1024 + 1), "tamaño máximo"),
                               ("empty.csv", b"", "no esté vacío")):
        r = c.post(f"/cases/{number}/attachments", files={"file": (name, data, "text/plain")})
        assert r.status_code == 422 and needle in r.text, name
    assert login(app, "piura").get(f"/cases/{number}/attachments/{att.id}").status_code == 200
    lima = login(app, "lima")  # the stock gap is in Piura
    assert lima.get(f"/cases/{number}/attachments/{att.id}").status_code == 404


def test_alert_close_without_outcome_stays_in_the_form(app, busy):
    c = login(app, "analista")
    alert = busy["prescriber_volume"]
    page = c.get(f"/alerts/{alert}").text
    assert 'id="case-close"' in page and 'name="outcome" required' in page
    r = c.post(f"/alerts/{alert}/actions", data={"action": "close", "note": "revisado"})
    assert r.status_code == 422
    assert 'id="case-error"' in r.text and "elija un resultado" in r.text
    assert 'value="revisado"' in r.text and "--outcome" not in r.text
    r = c.post(f"/alerts/{alert}/actions", data={"action": "close", "outcome": "justified"},
               follow_redirects=False)
    assert r.status_code == 303
    assert c.get(f"/api/v1/alerts/{alert}").json()["alert"]["status"] == "closed"


@pytest.fixture
def long_evidence(session, busy, now):
    """60 more dispenses by the prescriber inside the alert window, 40 more lot moves."""
    for i in range(60):
        session.add(_move(f"X-D-{i}", "dispense", "EST-LIM-F1", 1, now - dt.timedelta(days=5 + i),
                          prescription_id=f"RXX-{i}", prescriber_id="CMP-000001",
                          patient_id=busy["patient_lima"]))
    for i in range(40):
        session.add(_move(f"X-L-{i}", "administer", "EST-LIM-H1", 1,
                          now - dt.timedelta(days=100 + i), lot="L2025A"))
    session.commit()
    return busy


def test_alert_movements_paginated_with_totals_and_csv(app, long_evidence):
    from centinela.web.views.alert import MOVEMENTS_SHOWN

    c = login(app, "analista")
    alert = long_evidence["prescriber_volume"]
    ctx = c.get(f"/api/v1/alerts/{alert}").json()
    mp = ctx["movements_page"]
    total = mp["total"]
    size = MOVEMENTS_SHOWN
    assert total >= 63 and len(mp["rows"]) == size and mp["pages"] == -(-total // size)
    page3 = c.get(f"/alerts/{alert}?mpage=3").text
    assert f"Filas {2 * size + 1}–{min(3 * size, total)} de {total}" in page3
    assert page3.count("<tr><td>20") <= size + 40  # case log and deliveries are short
    r = c.get(f"/alerts/{alert}/movements.csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == total and rows[0]["event_type"] == "dispense"
    assert login(app, "piura").get(f"/alerts/{alert}/movements.csv").status_code == 404
    police = login(app, "policia").get(f"/alerts/{alert}/movements.csv")  # no grant
    assert police.status_code == 200 and long_evidence["patient_lima"] not in police.text
    assert "PSN:[reservado]" in police.text


def test_lot_custody_flow_pages_and_csv(app, long_evidence):
    c = login(app, "analista")
    page = c.get("/profiles/lot/L2025A").text
    flow = page.split('id="custody-flow"')[1].split("</div>\n</div>")[0]
    assert "Distribuidor" in flow and "Establecimiento" in flow and "Paciente o incautación" in flow
    assert flow.index("Distribuidor") < flow.index("Establecimiento") < flow.index("Paciente")
    assert "500" in flow  # 500 ampoules sent on by the distributor and received by the hospital
    assert "Filas 1–25 de 55" in page
    assert "Filas 51–55 de 55" in c.get("/profiles/lot/L2025A?mpage=3").text
    r = c.get("/profiles/lot/L2025A/movements.csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 55
    assert [r["occurred_at"] for r in rows] == sorted(r["occurred_at"] for r in rows)
    # Custody downloads carry no pseudonyms (a placeholder says a patient was there).
    assert {row["patient_id"] for row in rows} <= {"", "PSN:[reservado]"}
    assert long_evidence["patient_lima"] not in r.text
    assert c.get("/profiles/lot/NOPE/movements.csv").status_code == 404


def test_police_404_points_to_access_requests_and_requests_from_the_alert(app, busy, session):
    police = login(app, "policia")
    alert = busy["mme_high"]  # a patient alert without a grant
    r = police.get(f"/alerts/{alert}", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert 'href="/access"' in r.text and "Solicitudes de acceso" in r.text
    assert f'href="/alerts/{alert}/access-request"' in r.text
    form = police.get(f"/alerts/{alert}/access-request")
    assert form.status_code == 200 and busy["patient_lima"] not in form.text
    bad = police.post(f"/alerts/{alert}/access-request", data={"case_number": "X",
                                                               "reason": "corto"})
    assert bad.status_code == 422 and 'value="X"' in bad.text
    r = police.post(f"/alerts/{alert}/access-request",
                    data={"case_number": "CF-2025-77", "reason": "Investigación fiscal en curso"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/access"
    req = session.scalar(select(AccessRequest))
    assert (req.requester, req.patient_id, req.status) == ("policia", busy["patient_lima"],
                                                            "pending")
    assert login(app, "analista").get(f"/alerts/{alert}/access-request").status_code == 403
    # An alert without any patient has nothing to request.
    assert police.get(f"/alerts/{busy['stock_gap']}/access-request").status_code == 404
    # A prescriber alert shows police its patients hidden, with a way to ask for them.
    page = police.get(f"/alerts/{busy['prescriber_volume']}").text
    assert busy["patient_lima"] not in page
    assert f'href="/alerts/{busy["prescriber_volume"]}/access-request"' in page
    r = police.post(f"/alerts/{busy['prescriber_volume']}/access-request",
                    data={"case_number": "CF-2025-78", "reason": "Receta múltiple investigada"},
                    follow_redirects=False)
    assert r.status_code == 303
    reqs = session.scalars(select(AccessRequest).where(AccessRequest.case_number == "CF-2025-78"))
    assert [q.patient_id for q in reqs] == [busy["patient_lima"]]
