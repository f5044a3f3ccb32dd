"""Backfill is not real time; a large loss reported now reaches police and prosecutors at import."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.models import Alert, Delivery
from centinela.detect.detectors.loss import loss_score
from centinela.ingest.service import import_directory
from tests.ingest_support import movement, write_csv, write_registry

LIMA = dt.timezone(dt.timedelta(hours=-5))


def _stamp(t: dt.datetime) -> str:
    return t.astimezone(LIMA).isoformat(timespec="seconds")


def _history(now: dt.datetime) -> list[dict]:
    """A year-old backlog: receipts, administrations, losses (one of them large), all old."""
    rows = []
    for d in range(400, 30, -7):
        t = now - dt.timedelta(days=d)
        rows.append(movement(f"H-R-{d}", "receipt", _stamp(t), "EST-HOS", "50",
                             counterparty_id="EST-DIS"))
        rows.append(movement(f"H-A-{d}", "administer", _stamp(t + dt.timedelta(hours=2)),
                             "EST-HOS", "2", professional_id="CEP-00077"))
        rows.append(movement(f"H-L-{d}", "loss", _stamp(t + dt.timedelta(hours=3)), "EST-HOS",
                             "300" if d == 295 else "1"))
    return rows


def test_importing_a_year_old_backlog_queues_no_delivery(engine, tmp_path):
    now = dt.datetime.now(dt.UTC)
    write_registry(tmp_path)
    write_csv(tmp_path, "movements", _history(now))
    report = import_directory(engine, tmp_path)
    assert report.realtime and report.realtime["ran"], report.realtime
    with engine.connect() as conn:
        assert conn.execute(Delivery.__table__.select()).fetchall() == []
        assert conn.execute(Alert.__table__.select()).fetchall() == []


def test_a_theft_of_500_ampoules_an_hour_ago_is_critical_for_police_and_prosecutors(engine, tmp_path):
    now = dt.datetime.now(dt.UTC)
    write_registry(tmp_path)
    rows = _history(now)
    rows.append(movement("NOW-L1", "loss", _stamp(now - dt.timedelta(hours=1)), "EST-HOS", "500"))
    rows.append(movement("NOW-L2", "loss", _stamp(now - dt.timedelta(hours=2)), "EST-DIS", "1"))
    write_csv(tmp_path, "movements", rows)
    import_directory(engine, tmp_path)
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        alerts = {a.subject_id: a for a in s.query(Alert)}
        assert set(alerts) == {"EST-HOS", "EST-DIS"}  # the backlog is left to batch detection
        theft = alerts["EST-HOS"]
        assert theft.severity == "critical", theft.score
        assert {"PNP-DIRANDRO", "FISCALIA-TID", "DIRESA-08"} <= set(theft.routed_to)
        assert theft.evidence["fentanyl_mg"] == 50.0
        breakage = alerts["EST-DIS"]
        assert breakage.severity == "low"
        assert "PNP-DIRANDRO" not in breakage.routed_to
        routed = {d.payload["authority_id"] for d in s.query(Delivery)
                  if d.alert_id == theft.alert_id}
        assert {"PNP-DIRANDRO", "FISCALIA-TID"} <= routed


def test_loss_severity_scales_with_magnitude_and_harm():
    # 0.1 mg fentanyl ampoules (30 MME each).
    assert loss_score(1, 0.1, 30) < 40  # a breakage
    assert loss_score(2, 4.2 * 2, 151) < 40  # two patches dropped: still a breakage
    assert 40 <= loss_score(6, 0.6, 180) < 65
    assert 65 <= loss_score(40, 4.0, 1200) < 85  # past the 3 mg Law 32250 line
    assert loss_score(500, 50.0, 15000) >= 85
    assert loss_score(300, 0.0, 900) >= 85  # hundreds of doses of another opioid
