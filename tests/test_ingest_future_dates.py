"""Movements dated in the future are accepted (the contract never rejects a well-formed record
for its date) but reported as a data-quality warning: in the import report, ``ImportRun.summary``,
the command line and the import pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from centinela.cli import app as cli_app
from centinela.ingest.service import import_directory, import_records
from centinela.ledger.records import ImportRun, Movement
from tests.ingest_support import movement, write_csv, write_registry
from tests.web_support import login

T = "2025-12-01T10:00:00-05:00"  # a month before the frozen now (2025-12-31 12:00 UTC)
MESSAGE = ("2 movimientos con fecha futura (hasta 2062-03-01): revise la fecha / "
           "2 movements dated in the future (up to 2062-03-01): check the date")
HTML = {"accept": "text/html"}


def _rows(future: bool = True) -> list[dict]:
    rows = [movement(f"OK{i}", "receipt", T, "EST-HOS", "2", counterparty_id="EST-DIS")
            for i in range(6)]
    # 17 hours after now: within the one-day tolerance (a clock a few hours off), not flagged.
    rows.append(movement("SOON", "receipt", "2026-01-01T00:00:00-05:00", "EST-HOS", "1",
                         counterparty_id="EST-DIS"))
    if future:
        rows.insert(2, movement("TYPO", "receipt", "2062-03-01T09:00:00-05:00", "EST-HOS", "1",
                                counterparty_id="EST-DIS"))
        rows.insert(5, movement("AHEAD", "receipt", "2026-12-01T10:00:00-05:00", "EST-DIS", "1",
                                counterparty_id="EST-IMP"))
    return rows


def test_future_dated_rows_are_accepted_and_reported(engine, session, data_dir, now):
    write_registry(data_dir)
    write_csv(data_dir, "movements", _rows())
    report = import_directory(engine, data_dir, now=now, realtime=False)

    mv = next(f for f in report.files if f.name == "movements.csv")
    assert (mv.read, mv.accepted, mv.rejected, mv.conflicts) == (9, 9, 0, 0)
    assert session.scalar(select(func.count()).select_from(Movement)) == 9
    (warning,) = report.warnings
    assert warning["code"] == "future_dated_movements" and warning["count"] == 2
    assert warning["latest"] == "2062-03-01T09:00:00-05:00"
    assert warning["after"] == "2026-01-01T07:00:00-05:00"  # now + 1 day, in Lima time
    assert [(s["event_id"], s["establishment_id"], s["occurred_at"][:10])
            for s in warning["samples"]] == [("TYPO", "EST-HOS", "2062-03-01"),
                                              ("AHEAD", "EST-DIS", "2026-12-01")]
    assert warning["message"] == MESSAGE
    assert report.as_dict()["warnings"] == [warning]
    text = report.as_text()
    assert f"Aviso / warning: {MESSAGE}" in text
    assert "  EST-HOS TYPO: 2062-03-01T09:00:00-05:00" in text

    run = session.get(ImportRun, report.import_id)
    assert run.status == "completed" and run.rejected == 0
    assert run.summary["warnings"] == json.loads(json.dumps([warning]))

    # Re-sent, the rows are duplicates stored by the first import: this one stored none.
    again = import_directory(engine, data_dir, now=now, realtime=False)
    assert again.total("duplicates") == 19 and again.warnings == []


def test_an_import_without_future_rows_has_no_warning(engine, session, data_dir, now):
    write_registry(data_dir)
    write_csv(data_dir, "movements", _rows(future=False))
    report = import_directory(engine, data_dir, now=now, realtime=False)
    assert report.total("accepted") == 17 and report.total("rejected") == 0
    assert report.warnings == [] and report.as_dict()["warnings"] == []
    assert "Aviso / warning" not in report.as_text()
    assert session.get(ImportRun, report.import_id).summary["warnings"] == []


def test_api_batch_counts_only_its_own_rows_against_an_aware_now(engine, data_dir, now):
    write_registry(data_dir)
    write_csv(data_dir, "movements", _rows())
    import_directory(engine, data_dir, now=now, realtime=False)
    aware = now.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    batch = [movement("API1", "receipt", "2030-05-05T08:00:00-05:00", "EST-HOS", "1",
                      counterparty_id="EST-DIS"),
             movement("API2", "receipt", T, "EST-HOS", "1", counterparty_id="EST-DIS")]
    report = import_records(engine, "movements", batch, now=aware)
    (warning,) = report.warnings
    assert warning["count"] == 1 and warning["latest"] == "2030-05-05T08:00:00-05:00"
    assert [s["event_id"] for s in warning["samples"]] == ["API1"]


def test_at_most_five_samples_latest_first(engine, data_dir, now):
    write_registry(data_dir)
    rows = [movement(f"F{i}", "receipt", f"20{30 + i}-01-15T10:00:00-05:00", "EST-HOS", "1",
                     counterparty_id="EST-DIS") for i in range(8)]
    write_csv(data_dir, "movements", rows)
    report = import_directory(engine, data_dir, now=now, realtime=False)
    (warning,) = report.warnings
    assert warning["count"] == 8 and warning["latest"].startswith("2037-01-15")
    assert [s["event_id"] for s in warning["samples"]] == ["F7", "F6", "F5", "F4", "F3"]
    assert "  … 3 más / more" in report.as_text()


def test_cli_prints_the_warning(db_url, data_dir, now, monkeypatch):
    from centinela.ingest import service

    monkeypatch.setattr(service, "utcnow", lambda: now)  # the import's time, as the machine's
    write_registry(data_dir)
    write_csv(data_dir, "movements", _rows())
    result = CliRunner().invoke(cli_app, ["import", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "movements.csv: 9 leídos/read, 9 aceptados/accepted" in result.output
    assert f"Aviso / warning: {MESSAGE}" in result.output
    data_dir.joinpath("movements.csv").unlink()
    write_csv(data_dir, "movements", [movement("J1", "receipt", "2062-03-01T09:00:00-05:00",
                                               "EST-HOS", "1", counterparty_id="EST-DIS")])
    as_json = json.loads(CliRunner().invoke(cli_app, ["import", str(data_dir), "--json"]).output)
    assert as_json["warnings"][0]["count"] == 1
    assert as_json["warnings"][0]["latest"] == "2062-03-01T09:00:00-05:00"


def _upload_csv(rows: list[dict]) -> bytes:
    from centinela.ingest.fields import SPECS

    fields = list(SPECS["movements"].base_fields)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    base = dict.fromkeys(fields, "")
    for r in rows:
        w.writerow({**base, **r})
    return buf.getvalue().encode()


def test_import_pages_show_the_warning(app, world):
    def receipt(event_id: str, when: str) -> dict:
        return {"event_id": event_id, "event_type": "receipt", "occurred_at": when,
                "establishment_id": "EST-LIM-H1", "product_code": "FEN-AMP", "quantity": "10",
                "counterparty_id": "EST-DIST"}

    body = _upload_csv([receipt("UP-1", T), receipt("UP-2", "2062-03-01T09:00:00-05:00"),
                        receipt("UP-3", "2026-06-01T09:00:00-05:00"),
                        receipt("UP-4", "2025-12-02T09:00:00-05:00")])
    client = login(app, "analista")
    r = client.post("/imports", files={"files": ("movements.csv", body, "text/csv")},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    run_id = int(r.headers["location"].rsplit("/", 1)[1])
    detail = client.get(f"/api/v1/import-runs/{run_id}").json()
    assert detail["run"]["accepted"] == 4 and detail["run"]["rejected"] == 0
    assert detail["run"]["future_dated"] == 2
    (warning,) = detail["summary"]["warnings"]
    assert warning["count"] == 2 and warning["latest"].startswith("2062-03-01")

    es = client.get(f"/imports/{run_id}", headers=HTML).text
    assert 'id="future-dated" data-count="2"' in es
    assert "2 movimientos con fecha futura (hasta 2062-03-01): revise la fecha" in es
    assert "UP-2" in es and "UP-3" in es and "UP-1" not in es
    en = client.get(f"/imports/{run_id}?lang=en", headers=HTML).text
    assert "2 movements dated in the future (up to 2062-03-01): check the date" in en

    listing = client.get("/imports", headers=HTML).text
    assert "⚠ 2 con fecha futura" in listing
    assert "⚠ 2 future-dated" in client.get("/imports?lang=en", headers=HTML).text


def test_import_page_without_future_rows_shows_no_warning(app, world):
    body = _upload_csv([{"event_id": "UP-9", "event_type": "receipt", "occurred_at": T,
                         "establishment_id": "EST-LIM-H1", "product_code": "FEN-AMP",
                         "quantity": "10", "counterparty_id": "EST-DIST"}])
    client = login(app, "analista")
    r = client.post("/imports", files={"files": ("movements.csv", body, "text/csv")},
                    follow_redirects=False)
    run_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert client.get(f"/api/v1/import-runs/{run_id}").json()["run"]["future_dated"] == 0
    assert 'id="future-dated"' not in client.get(f"/imports/{run_id}", headers=HTML).text
    assert "future-dated" not in client.get("/imports", headers=HTML).text
