"""One receipt window for transfers: the ledger view and the detector agree on each shipment."""

from __future__ import annotations

import datetime as dt

import pytest

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from centinela.ledger.transfers import RECEIPT_LEAD, match_transfers, receipt_window
from tests.detect_factory import FENT_AMP, base_products, est, mv

T = dt.datetime(2025, 6, 2, 15)
NOW = T + dt.timedelta(days=40)


def test_window_is_three_days_before_to_the_receipt_days_after(session):
    assert receipt_window(7) == (dt.timedelta(days=3), dt.timedelta(days=7))
    assert receipt_window()[0] == RECEIPT_LEAD


@pytest.mark.parametrize(("offset_h", "received"), [
    (-80, False),  # booked more than three days before the shipment: not its receipt
    (-30, True),  # booked 30 hours before: the sender typed its dispatch note a day late
    (-12, True),  # booked half a day before: the sender booked late
    (6 * 24, True),
    (8 * 24, True),  # after the 7 receipt days, unclaimed: a late booking (LATE_RECEIPT_DAYS)
])
def test_ledger_and_detector_agree_on_the_window(session, offset_h, received):
    base_products(session)
    est(session, "D1", "distributor")
    est(session, "P1")
    mv(session, "transfer_out", "D1", FENT_AMP, 50, T, counterparty_id="P1", event_id="SHIP")
    # A later shipment never received: the pair is short, so the detector looks at each one.
    mv(session, "transfer_out", "D1", FENT_AMP, 50, T + dt.timedelta(days=20),
       counterparty_id="P1", event_id="LOST")
    mv(session, "receipt", "P1", FENT_AMP, 50, T + dt.timedelta(hours=offset_h),
       counterparty_id="D1")
    mv(session, "count", "P1", FENT_AMP, 0, NOW)
    session.commit()

    expected = ["LOST"] if received else ["LOST", "SHIP"]
    m = match_transfers(session, NOW)
    assert (len(m.pairs) == 1) is received
    assert sorted(leg.event_id for leg in m.unreceived) == expected

    run_all(session, now=NOW, only=["transfer_not_received"])
    flagged = sorted(a.subject_id for a in session.query(Alert).filter_by(
        detector="transfer_not_received"))
    assert flagged == expected


def test_a_late_receipt_serves_one_shipment_the_closest_in_time(session):
    """Booked 36 days after SHIP (past a reporting cycle) and 16 after LOST: it is LOST's late
    receipt, in the ledger and in the detector; SHIP stays unreceived."""
    base_products(session)
    est(session, "D1", "distributor")
    est(session, "P1")
    mv(session, "transfer_out", "D1", FENT_AMP, 50, T, counterparty_id="P1", event_id="SHIP")
    mv(session, "transfer_out", "D1", FENT_AMP, 50, T + dt.timedelta(days=20),
       counterparty_id="P1", event_id="LOST")
    mv(session, "receipt", "P1", FENT_AMP, 50, T + dt.timedelta(days=36), counterparty_id="D1")
    mv(session, "count", "P1", FENT_AMP, 0, NOW)
    session.commit()

    m = match_transfers(session, NOW)
    assert [p.shipment.event_id for p in m.pairs] == ["LOST"]
    assert [leg.event_id for leg in m.unreceived] == ["SHIP"]
    run_all(session, now=NOW, only=["transfer_not_received"])
    flagged = sorted(a.subject_id for a in session.query(Alert).filter_by(
        detector="transfer_not_received"))
    assert flagged == ["SHIP"]
