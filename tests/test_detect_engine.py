"""Engine, real-time rules and the CLI contract (detect, alerts --json)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from centinela.alerts.models import Alert, Delivery
from centinela.cli import app
from centinela.detect import registry
from centinela.detect.base import Detector
from centinela.detect.engine import run_all
from centinela.detect.realtime import after_import
from centinela.ledger.records import ImportRun
from tests.detect_factory import FENT_AMP, MORPH_TAB, base_products, days, est, mv, prof

T = dt.datetime(2025, 5, 5, 15)
SPEC_FIELDS = {"alert_id", "detector", "subject_kind", "subject_id", "severity", "score",
               "window_start", "window_end", "summary", "evidence", "routed_to"}


def _world(session):
    base_products(session)
    est(session, "D1", "distributor")
    est(session, "BAD", authorized=False, ubigeo="080101")
    est(session, "F1", ubigeo="150122")
    prof(session, "CMP-GP", specialty="general_medicine")
    mv(session, "transfer_out", "D1", FENT_AMP, 20, T, counterparty_id="BAD")
    mv(session, "loss", "F1", FENT_AMP, 3, days(T, 1))
    mv(session, "dispense", "F1", MORPH_TAB, 30, days(T, -100), patient_id="PSN:old01",
       prescriber_id="CMP-GP", prescription_id="R0", days_supply=30)
    # 400 MME/day in one dispense.
    mv(session, "dispense", "F1", MORPH_TAB, 400, days(T, 2), patient_id="PSN:high01",
       prescriber_id="CMP-GP", prescription_id="R1", days_supply=30)
    session.commit()


def test_run_is_idempotent_and_now_defaults_to_latest_movement(session):
    _world(session)
    first = run_all(session)
    session.commit()
    assert first.now == days(T, 2)
    assert first.new >= 3 and not first.errors
    n = session.query(Alert).count()
    second = run_all(session)
    session.commit()
    assert second.new == 0 and second.updated == first.new
    assert session.query(Alert).count() == n
    early = run_all(session, now=T + dt.timedelta(hours=1), only=["loss_report"])
    assert early.results[0].found == 0  # the loss happened after that 'now'


def test_a_broken_detector_is_reported_and_the_others_still_run(session):
    class Broken(Detector):
        name = "broken_test"
        subject_kind = "establishment"

        def run(self, session, now, ctx):
            raise RuntimeError("boom")

    import sys

    sys.modules[__name__].Broken = Broken
    registry.register("broken_test", f"{__name__}:Broken")
    try:
        _world(session)
        report = run_all(session)
    finally:
        registry.DETECTORS.pop("broken_test")
    assert [r.name for r in report.errors] == ["broken_test"]
    assert "boom" in report.errors[0].error
    assert report.new >= 3


@pytest.mark.parametrize("reverse", [False, True])
def test_capped_and_tied_findings_are_kept_whatever_order_a_detector_lists_them(
        session, monkeypatch, reverse):
    # A detector with more findings than the cap keeps its strongest; among equal scores the
    # kept ones used to depend on the order the detector listed them in (a set's order, which
    # changes from one process to the next): two runs on the same data raised different alerts.
    from centinela.alerts.service import AlertDraft
    from centinela.detect import engine

    class Tied(Detector):
        name = "tied_test"
        subject_kind = "establishment"

        def run(self, session, now, ctx):
            out = [AlertDraft(detector="tied_test", subject_kind="establishment",
                              subject_id=f"EST-{i}", severity="high", score=70.0,
                              window_start=T, window_end=T, summary="Prueba.",
                              evidence={}, grouped=True) for i in range(6)]
            return out[::-1] if reverse else out

    import sys

    sys.modules[__name__].Tied = Tied
    registry.register("tied_test", f"{__name__}:Tied")
    monkeypatch.setattr(engine, "MAX_ALERTS_PER_DETECTOR", 3)
    try:
        _world(session)
        report = run_all(session, only=["tied_test"])
    finally:
        registry.DETECTORS.pop("tied_test")
    assert report.results[0].truncated == 3
    kept = sorted(a.subject_id for a in session.query(Alert).filter_by(detector="tied_test"))
    from centinela.alerts.service import in_upsert_order

    drafts = Tied().run(session, T, None)
    assert kept == sorted(d.subject_id for d in in_upsert_order(drafts)[:3])
    assert len(kept) == 3


def test_realtime_rules_raise_and_route_alerts_for_one_import(session):
    base_products(session)
    est(session, "D1", "distributor")
    est(session, "BAD", authorized=False)
    run = ImportRun(source="api", channel="api", started_at=T, status="completed")
    session.add(run)
    session.flush()
    mv(session, "transfer_out", "D1", FENT_AMP, 20, T, counterparty_id="BAD", import_id=run.id)
    mv(session, "loss", "D1", FENT_AMP, 2, T, import_id=run.id)
    mv(session, "dispense", "D1", FENT_AMP, 1, T, serial="SN1", patient_id="PSN:a1",
       prescriber_id="CMP-1", prescription_id="R1")  # an earlier import
    mv(session, "dispense", "D1", FENT_AMP, 1, days(T, 1), serial="SN1", patient_id="PSN:a2",
       prescriber_id="CMP-1", prescription_id="R2", import_id=run.id)
    session.flush()
    n = after_import(session, run.id, now=T)
    session.commit()
    kinds = sorted(a.detector for a in session.query(Alert))
    assert n == 3 and kinds == ["loss_report", "serial_reuse", "unauthorized_receiver"]
    assert session.query(Delivery).filter_by(status="pending").count() >= 3
    # The scheduled run finds the same findings and updates them (no duplicates).
    report = run_all(session)
    session.commit()
    assert session.query(Alert).filter_by(detector="unauthorized_receiver").count() == 1
    assert session.query(Alert).filter_by(detector="serial_reuse").count() == 1
    assert report.results[0].updated == 1


def test_realtime_second_pass_reads_the_windows_only_when_they_hold_other_movements(
        session, monkeypatch):
    # The first pass reads the import's recent events; the second completes each finding
    # with the subject's other movements in its window. With none there (a first import), it
    # is skipped; with an earlier shipment to the same receiver that month, it runs and the
    # alert counts both.
    from centinela.detect import realtime

    passes: list[int] = []
    real = realtime._run

    def counted(*args):
        passes.append(1)
        return real(*args)

    monkeypatch.setattr(realtime, "_run", counted)
    base_products(session)
    est(session, "D1", "distributor")
    est(session, "BAD", authorized=False)
    runs = []
    for _ in range(2):
        runs.append(ImportRun(source="api", channel="api", started_at=T, status="completed"))
        session.add(runs[-1])
    session.flush()
    mv(session, "transfer_out", "D1", FENT_AMP, 20, T, counterparty_id="BAD",
       import_id=runs[0].id)
    session.flush()
    assert after_import(session, runs[0].id, now=T) == 1
    assert len(passes) == 1  # nothing else in the window: one pass
    session.commit()
    passes.clear()
    mv(session, "transfer_out", "D1", FENT_AMP, 5, days(T, 2), counterparty_id="BAD",
       import_id=runs[1].id)
    session.flush()
    assert after_import(session, runs[1].id, now=days(T, 2)) == 1
    assert len(passes) == 2
    session.commit()
    alert = session.query(Alert).filter_by(detector="unauthorized_receiver").one()
    assert alert.evidence["units"] == 25


@pytest.mark.parametrize("listed", [0, 5_000])
def test_realtime_serials_listed_or_as_a_subquery_find_the_same_reuse(session, monkeypatch,
                                                                      listed):
    # The import's serials are written into the frame query as a list (so the database can
    # use its indexes); beyond SERIALS_LISTED a subquery does it. Either way the serial's
    # earlier use, from another import, is in the frame and the reuse is found.
    from centinela.detect import realtime

    monkeypatch.setattr(realtime, "SERIALS_LISTED", listed)
    base_products(session)
    est(session, "D1", "distributor")
    run = ImportRun(source="api", channel="api", started_at=T, status="completed")
    session.add(run)
    session.flush()
    mv(session, "dispense", "D1", FENT_AMP, 1, days(T, -3), serial="SN9", patient_id="PSN:b1",
       prescriber_id="CMP-1", prescription_id="R1")  # an earlier import
    mv(session, "dispense", "D1", FENT_AMP, 1, T, serial="SN9", patient_id="PSN:b2",
       prescriber_id="CMP-1", prescription_id="R2", import_id=run.id)
    mv(session, "dispense", "D1", FENT_AMP, 1, T, serial="SN8", patient_id="PSN:b3",
       prescriber_id="CMP-1", prescription_id="R3", import_id=run.id)
    session.flush()
    assert after_import(session, run.id, now=T) == 1
    alert = session.query(Alert).one()
    assert alert.detector == "serial_reuse" and alert.evidence["event_count"] == 2


def test_cli_detect_and_alerts_json_follow_the_spec(session, db_url):
    _world(session)
    runner = CliRunner()
    res = runner.invoke(app, ["detect"])
    assert res.exit_code == 0, res.output
    assert "unauthorized_receiver" in res.output and "Total:" in res.output
    res = runner.invoke(app, ["alerts", "--json"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.output.splitlines()]
    assert len(lines) >= 3
    assert all(SPEC_FIELDS <= set(x) for x in lines)
    scores = [x["score"] for x in lines]
    assert scores == sorted(scores, reverse=True)
    assert all(x["window_start"].endswith("-05:00") for x in lines)
    assert all("DIGEMID" in x["routed_to"] for x in lines)
    bad = next(x for x in lines if x["subject_id"] == "BAD")
    assert "DIRESA-08" in bad["routed_to"] and bad["evidence"]["event_ids"]
    res = runner.invoke(app, ["alerts", "--json", "--detector", "loss_report"])
    assert [json.loads(x)["detector"] for x in res.output.splitlines()] == ["loss_report"]
    res = runner.invoke(app, ["alerts", "--department", "08"])
    assert "BAD" in res.output and "F1" not in res.output
    res = runner.invoke(app, ["alerts", "--severity", "bogus"])
    assert res.exit_code == 2 and "unknown severity" in res.output


def test_a_stray_movement_dated_decades_ahead_neither_moves_nor_breaks_detection(session):
    # A typo (2062 for 2026) among a year of movements: the default 'now' stays at the data's
    # real end (the stray is past the clock and a tiny share) and its time, past 2038, loads.
    from centinela.detect.engine import latest_movement_time

    base_products(session)
    est(session, "D1", "distributor")
    est(session, "BAD", authorized=False)
    for k in range(200):
        mv(session, "receipt", "D1", FENT_AMP, 1, days(T, -k), counterparty_id="BAD")
    mv(session, "transfer_out", "D1", FENT_AMP, 20, T, counterparty_id="BAD")
    mv(session, "receipt", "D1", FENT_AMP, 1, dt.datetime(2062, 3, 1, 15), counterparty_id="BAD")
    session.commit()
    wall = dt.datetime(2026, 12, 6)
    assert latest_movement_time(session, wall) == T
    report = run_all(session, now=dt.datetime(2062, 3, 2))  # judged then, the row loads
    assert not report.errors
    # A whole data set ahead of the clock (a synthetic world) keeps its own end.
    assert latest_movement_time(session, dt.datetime(2020, 1, 1)) == dt.datetime(2062, 3, 1, 15)
