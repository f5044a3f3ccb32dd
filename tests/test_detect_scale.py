"""Detection with bounded memory: a window plus declared history, and incremental runs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from centinela.alerts.models import Alert, CaseEvent, Delivery, DeliveryAttempt
from centinela.config import get_settings
from centinela.detect import window
from centinela.detect.context import DetectionContext
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


def test_three_years_give_the_alerts_of_the_window_alone(engine, session, tmp_path, monkeypatch):
    """History older than the window + declared baseline changes nothing and is not loaded;
    the raw frame holds the window and a short history, the rest are database aggregates
    that give the alerts a raw frame of the whole baseline gives."""
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

    # The frame: the window plus the short raw history; not the 400 days of baseline (those
    # are aggregates), so it does not grow with the years stored.
    frame_since = now - dt.timedelta(days=366 + max(window.HISTORY_DAYS.values()))
    in_frame = session.scalar(select(func.count()).where(Movement.occurred_at >= frame_since))
    assert first.movements == in_frame
    baseline = now - dt.timedelta(days=366 + get_settings().detect_history_days)
    assert first.movements < 0.8 * session.scalar(
        select(func.count()).where(Movement.occurred_at >= baseline))

    # The same run with every baseline as raw movements (the way before the aggregates).
    _clear_alerts(session)
    with monkeypatch.context() as m:
        m.setattr(window, "HISTORY_DAYS", window.HISTORY_DAYS | window.AGGREGATE_DAYS)
        m.setattr(window, "AGGREGATE_DAYS", {})
        raw = run_all(engine, now=now)
    assert not raw.errors and raw.movements > first.movements
    assert _alerts(session) == with_history
    # The four baseline detectors with relaxed thresholds, so they flag plenty: the same
    # findings from the aggregates as from raw movements.
    long = sorted(window.AGGREGATE_DAYS)
    with monkeypatch.context() as m:
        _relax(m)
        _clear_alerts(session)
        agg = run_all(engine, now=now, only=long)
        relaxed = _alerts(session)
        _clear_alerts(session)
        m.setattr(window, "HISTORY_DAYS", window.HISTORY_DAYS | window.AGGREGATE_DAYS)
        m.setattr(window, "AGGREGATE_DAYS", {})
        raw = run_all(engine, now=now, only=long)
        assert _alerts(session) == relaxed
    assert not agg.errors and agg.movements < raw.movements
    assert {a[0] for a in relaxed} >= set(long) - {"purchases_outgrow_use"}
    # purchases_outgrow_use rarely flags even relaxed: compare its (and suspicious_order's)
    # monthly series directly, raw frame against aggregates.
    aggregated = DetectionContext(session, now, history_days=31, aggregate_days=400)
    raw_ctx = DetectionContext(session, now, history_days=400)
    assert aggregated.frame.n < raw_ctx.frame.n
    cells, raw_cells = _monthly_cells(aggregated), _monthly_cells(raw_ctx)
    # First active months (labels) exactly; the monthly sums to float precision (pytest ≥ 9.2
    # refuses text values inside approx).
    labels = {k: v for k, v in cells.items() if isinstance(v, str)}
    assert labels == {k: v for k, v in raw_cells.items() if isinstance(v, str)}
    assert {k: v for k, v in cells.items() if k not in labels} == pytest.approx(
        {k: v for k, v in raw_cells.items() if k not in labels}, rel=1e-9)
    _clear_alerts(session)
    first = run_all(engine, now=now)
    assert _alerts(session) == with_history

    # The same database with only the window and its declared baseline.
    since = now - dt.timedelta(days=366 + get_settings().detect_history_days)
    session.execute(delete(Movement).where(Movement.occurred_at < since))
    session.commit()
    _clear_alerts(session)
    second = run_all(engine, now=now)
    assert second.movements == first.movements
    assert _alerts(session) == with_history


def _monthly_cells(ctx) -> dict:
    """Every establishment × substance series' monthly R, N, U, W by (establishment, substance,
    month label), and its first active month."""
    from centinela.detect.detectors.orders import _Monthly
    from centinela.detect.util import month_label

    mo = _Monthly(ctx)
    out: dict = {}
    for g, (e, sub) in enumerate(zip(mo.est, mo.sub, strict=True)):
        name = (ctx.frame.estv.name(int(e)), mo.subv.name(int(sub)) if sub < len(mo.subv) else "")
        out[name + ("first",)] = month_label(mo.m0 + int(mo.first[g]))
        for label, x in (("R", mo.R), ("N", mo.N), ("U", mo.U), ("W", mo.W)):
            for m in np.flatnonzero(x[g]):
                out[name + (label, month_label(mo.m0 + int(m)))] = float(x[g, m])
    return out


def _relax(m) -> None:
    """Lower the thresholds of the four baseline detectors (for equality checks only)."""
    from centinela.detect.detectors.orders import PurchasesOutgrowUse, SuspiciousOrder
    from centinela.detect.detectors.prescriber import PrescriberVolume
    from centinela.detect.detectors.regional import RegionalSurge

    for cls, values in ((PrescriberVolume, {"Z_MIN": 1.5, "HIST_RATIO": 1.1, "HIST_P": 0.2,
                                            "Q": 1.0, "MIN_PEERS": 3}),
                        (PurchasesOutgrowUse, {"Z_MIN": 1.0, "MIN_RATIO": 1.0, "Q": 1.0,
                                               "MIN_PEERS": 3}),
                        (SuspiciousOrder, {"Q": 1.0, "COUNT_MAX_AGE_DAYS": -1}),
                        (RegionalSurge, {"Q": 1.0, "RATIO_MIN": 1.05, "RUN_RATIO": 1.02,
                                         "MIN_EXCESS": 1.0})):
        for name, value in values.items():
            m.setattr(cls, name, value)


def _one_loss(folder, est: str, product: str, lot: str, at: str, pharmacist: str,
              event_id: str = "MV-NEW-0001") -> None:
    folder.mkdir()
    (folder / "movements.csv").write_text(
        "event_id,event_type,occurred_at,establishment_id,product_code,quantity,counterparty_id,"
        "lot,expiry,serial,prescription_id,prescriber_id,professional_id,patient_id,patient_sex,"
        "patient_birth_year,patient_ubigeo,days_supply,witness_id\n"
        f"{event_id},loss,{at},{est},{product},3,,{lot},2027-12-31,,,,{pharmacist},,,,,,\n")


def test_incremental_run_revisits_only_the_touched_subject(engine, session, tmp_path,
                                                           monkeypatch):
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

    # One new movement is far below detect_peer_rerun_share of the window: the peer detectors
    # keep their alerts until the next full run; only the touched subject is revisited.
    before = _alerts(session)
    inc = run_all(engine, now=now, incremental=True)
    assert inc.mode == "partial" and not inc.errors
    by_name = {r.name: r for r in inc.results}
    loss = by_name["loss_report"]
    assert loss.scope == "partition" and loss.subjects == 1  # that pharmacy only
    assert by_name["high_mme"].scope == "partition" and by_name["high_mme"].subjects == 0
    assert by_name["regional_surge"].scope == "deferred"
    # Serials are followed only for those the new movements name (this loss names none).
    assert by_name["serial_reuse"].scope == "partition" and by_name["serial_reuse"].found == 0
    assert {a for a in _alerts(session) if a[0] == "regional_surge"} == \
        {a for a in before if a[0] == "regional_surge"}

    # With the share at 0 the peers are recomputed in full on every incremental run.
    _one_loss(tmp_path / "new2", m.establishment_id, m.product_code, m.lot, at, m.professional_id,
              event_id="MV-NEW-0002")
    import_directory(engine, tmp_path / "new2", realtime=False)
    monkeypatch.setenv("CENTINELA_DETECT_PEER_RERUN_SHARE", "0")
    get_settings.cache_clear()
    inc = run_all(engine, now=now, incremental=True)
    by_name = {r.name: r for r in inc.results}
    assert by_name["regional_surge"].scope == "full"
    assert by_name["loss_report"].scope == "partition"
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


def test_incremental_serial_frame_holds_every_movement_of_the_touched_serials_only(engine,
                                                                                  session):
    from centinela.detect import incremental as inc
    from tests.detect_factory import FENT_AMP, base_products, est, mv

    base_products(session)
    est(session, "A1")
    est(session, "A2")
    t = dt.datetime(2026, 3, 1, 12)
    mv(session, "receipt", "A1", FENT_AMP, 1, t - dt.timedelta(days=400), serial="S-OLD")
    mv(session, "receipt", "A1", FENT_AMP, 1, t - dt.timedelta(days=3), serial="S-KEEP")
    session.flush()
    mark = session.scalar(select(func.max(Movement.id)))
    mv(session, "dispense", "A2", FENT_AMP, 1, t, serial="S-OLD")  # new: reuses an old serial
    session.flush()
    top = session.scalar(select(func.max(Movement.id)))
    touched = inc.touched_serials(session, inc.Plan("partial", mark, top))
    assert touched == {"S-OLD"}
    rows = session.scalars(select(Movement.serial).where(inc.serials_filter(touched, t))).all()
    assert sorted(rows) == ["S-OLD", "S-OLD"]  # its whole history, 400 days back included
    assert session.scalars(select(Movement.id).where(inc.serials_filter(set(), t))).all() == []


def test_an_import_that_commits_after_a_run_saw_later_ids_is_revisited(engine, session, tmp_path):
    """Imports commit out of id order: import A draws its movement ids, import B draws later
    ones and commits first, an incremental run sees B (watermark past A's ids), then A commits.
    The next incremental run still revisits A's subjects: the state remembered that A's import
    id was missing when the run looked."""
    from centinela.detect import incremental as inc
    from centinela.ledger.records import ImportRun
    from tests.detect_factory import FENT_AMP, base_products, est, mv

    base_products(session)
    for e in ("A1", "B1", "C1"):
        est(session, e)
    t = dt.datetime(2026, 3, 1, 12)
    now = t + dt.timedelta(days=1)
    mv(session, "receipt", "C1", FENT_AMP, 10, t - dt.timedelta(days=5))
    session.commit()
    run_all(engine, now=now)  # the first run: full

    # What the database shows a run while A is in flight: B's import and movements, and a gap
    # where A's ids will be (its import row and rows are not committed yet).
    top = session.scalar(select(func.max(Movement.id)))
    last_import = session.scalar(select(func.max(ImportRun.id))) or 0
    a_import, b_import = last_import + 1, last_import + 2
    session.add(ImportRun(id=b_import, source="B", channel="api", started_at=t, status="completed"))
    session.flush()
    mv(session, "loss", "B1", FENT_AMP, 2, t, import_id=b_import, id=top + 50)
    session.commit()
    seen = run_all(engine, now=now, incremental=True)
    assert seen.mode == "partial"
    state = inc.read_state(session)
    session.refresh(state)
    assert state.last_movement_id == top + 50 and a_import in state.import_gaps

    # A commits: its movement ids lie below the watermark.
    session.add(ImportRun(id=a_import, source="A", channel="api", started_at=t, status="completed"))
    session.flush()
    mv(session, "loss", "A1", FENT_AMP, 3, t, import_id=a_import, id=top + 1)
    session.commit()
    plan = inc.plan(session, now, state.lookback_days, 24.0,
                    dt.datetime.now(dt.UTC).replace(tzinfo=None))
    assert plan.mode == "partial" and plan.late_imports == [a_import]
    assert inc.touched_ids(session, "establishment", plan) == {"A1"}
    late = run_all(engine, now=now, incremental=True)
    loss = {r.name: r for r in late.results}["loss_report"]
    assert loss.scope == "partition" and loss.subjects == 1
    # Seen once, A is not revisited again: nothing new, nothing late.
    assert run_all(engine, now=now, incremental=True).mode == "skip"
