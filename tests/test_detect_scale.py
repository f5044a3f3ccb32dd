"""Detection with bounded memory: a window plus declared history, and incremental runs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select

from centinela.alerts.models import Alert, CaseEvent, Delivery, DeliveryAttempt
from centinela.config import get_settings
from centinela.detect.engine import latest_movement_time, run_all
from centinela.ingest.service import import_directory
from centinela.ledger.records import Movement

generate = pytest.importorskip("centinela.generate").generate


def _alerts(session) -> set[tuple]:
    session.expire_all()
    return {(a.detector, a.subject_kind, a.subject_id, a.window_start, a.window_end, a.severity,
             a.score, a.summary) for a in session.scalars(select(Alert))}


def _clear_alerts(session) -> None:
    for model in (DeliveryAttempt, Delivery, CaseEvent, Alert):
        session.execute(delete(model))
    session.commit()


def test_three_years_give_the_alerts_of_the_window_alone(engine, session, tmp_path):
    """History older than the window + declared baseline changes nothing and is not loaded."""
    folder = tmp_path / "gen"
    generate(folder, seed=2, scale=0.01, days=3 * 365, start=dt.date(2023, 7, 1))
    report = import_directory(engine, folder, realtime=False)
    assert report.total("rejected") == 0, report.as_text()
    now = latest_movement_time(session)
    total = session.scalar(select(func.count()).select_from(Movement))

    first = run_all(engine, now=now)
    assert not first.errors
    assert first.movements < 0.85 * total  # three years stored, the window loaded
    with_history = _alerts(session)
    assert with_history  # the planted scenarios of the last year are found

    # The same database with only the window and its declared baseline.
    since = now - dt.timedelta(days=366 + get_settings().detect_history_days)
    session.execute(delete(Movement).where(Movement.occurred_at < since))
    session.commit()
    _clear_alerts(session)
    second = run_all(engine, now=now)
    assert second.movements == first.movements
    assert _alerts(session) == with_history


def _one_loss(folder, est: str, product: str, lot: str, at: str, pharmacist: str) -> None:
    folder.mkdir()
    (folder / "movements.csv").write_text(
        "event_id,event_type,occurred_at,establishment_id,product_code,quantity,counterparty_id,"
        "lot,expiry,serial,prescription_id,prescriber_id,professional_id,patient_id,patient_sex,"
        "patient_birth_year,patient_ubigeo,days_supply,witness_id\n"
        f"MV-NEW-0001,loss,{at},{est},{product},3,,{lot},2027-12-31,,,,{pharmacist},,,,,,\n")


def test_incremental_run_revisits_only_the_touched_subject(engine, session, tmp_path):
    folder = tmp_path / "gen"
    generate(folder, seed=5, scale=0.01)
    import_directory(engine, folder, realtime=False)
    now = latest_movement_time(session)
    full = run_all(engine, now=now)
    assert full.mode == "full" and not full.errors

    # Nothing new: an incremental run does nothing.
    idle = run_all(engine, now=now, incremental=True)
    assert idle.mode == "skip" and idle.results == []

    # A new import from one pharmacy: one loss, a day before 'now'.
    m = session.scalars(select(Movement).where(Movement.event_type == "dispense",
                                               Movement.professional_id.is_not(None))).first()
    at = (now - dt.timedelta(days=1) - dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S-05:00")
    _one_loss(tmp_path / "new", m.establishment_id, m.product_code, m.lot, at, m.professional_id)
    import_directory(engine, tmp_path / "new", realtime=False)

    inc = run_all(engine, now=now, incremental=True)
    assert inc.mode == "partial" and not inc.errors
    by_name = {r.name: r for r in inc.results}
    loss = by_name["loss_report"]
    assert loss.scope == "partition" and loss.subjects == 1  # that pharmacy only
    assert by_name["high_mme"].scope == "partition" and by_name["high_mme"].subjects == 0
    assert by_name["regional_surge"].scope == "full"  # peers: recomputed in full
    after_incremental = _alerts(session)
    assert any(a[0] == "loss_report" and a[2] == m.establishment_id for a in after_incremental)

    # A full run over the same data changes nothing: incremental == full.
    again = run_all(engine, now=now)
    assert again.new == 0
    assert _alerts(session) == after_incremental


def test_cli_incremental_and_generate_years(engine, session, tmp_path):
    from typer.testing import CliRunner

    from centinela.cli import app

    runner = CliRunner()
    out = tmp_path / "two"
    res = runner.invoke(app, ["generate", str(out), "--scale", "0.01", "--years", "2",
                              "--start", "2024-07-01"])
    assert res.exit_code == 0, res.output
    assert "2024-07-01 + 730" in res.output  # two consecutive years; no bar off a terminal
    assert "━" not in res.output
    import_directory(engine, out, realtime=False)
    res = runner.invoke(app, ["detect", "--incremental"])
    assert res.exit_code == 0, res.output
    assert "Total:" in res.output  # no watermark yet: a full run
    res = runner.invoke(app, ["detect", "--incremental", "--json"])
    assert res.exit_code == 0, res.output
    assert '"mode": "skip"' in res.output
