"""Every detector on degenerate data a real import can bring alone (a distributor's file, a
pharmacy with no prescribers registered, one movement, unknown professionals): no detector
fails, whatever it finds."""

from __future__ import annotations

import datetime as dt

import pytest

from centinela.detect.engine import run_all
from tests.detect_factory import FENT_AMP, MORPH_TAB, base_products, est, mv, prof

T = dt.datetime(2026, 3, 1, 12)


def _only_receipts(session):
    est(session, "D1", kind="distributor")
    est(session, "H1", kind="hospital")
    for d in range(40):
        mv(session, "transfer_out", "D1", FENT_AMP, 50, T - dt.timedelta(days=d),
           counterparty_id="H1")
        mv(session, "receipt", "H1", FENT_AMP, 50, T - dt.timedelta(days=d, hours=-3),
           counterparty_id="D1")


def _dispenses_without_prescribers(session):
    est(session, "P1")
    for d in range(30):
        mv(session, "dispense", "P1", MORPH_TAB, 30, T - dt.timedelta(days=d),
           patient_id=f"PSN:{d % 3:024x}")


def _one_movement(session):
    est(session, "P1")
    mv(session, "loss", "P1", FENT_AMP, 1, T)


def _unknown_professionals(session):
    est(session, "H1", kind="hospital")
    prof(session, "CMP-000001")
    for d in range(20):
        mv(session, "administer", "H1", FENT_AMP, 1, T - dt.timedelta(days=d),
           professional_id="CEP-999999", prescriber_id="CMP-000001",
           patient_id=f"PSN:{d:024x}")
        mv(session, "waste", "H1", FENT_AMP, 0.5, T - dt.timedelta(days=d, hours=-1),
           professional_id="CEP-999999", witness_id="CEP-999999")


def _counts_only(session):
    est(session, "P1")
    for d in range(0, 90, 30):
        mv(session, "count", "P1", FENT_AMP, 12, T - dt.timedelta(days=d))


def _all_after_now(session):
    est(session, "P1")
    prof(session, "CMP-000002")
    for d in range(1, 10):
        mv(session, "dispense", "P1", MORPH_TAB, 60, T + dt.timedelta(days=30 + d),
           prescriber_id="CMP-000002", patient_id=f"PSN:{d:024x}")


def _one_patient_everywhere(session):
    for e in ("P1", "P2", "P3"):
        est(session, e)
    for i, d in enumerate(range(0, 60, 3)):
        prof(session, f"CMP-1{i:05d}")
        mv(session, "dispense", ("P1", "P2", "P3")[i % 3], MORPH_TAB, 60,
           T - dt.timedelta(days=d), prescriber_id=f"CMP-1{i:05d}", patient_id="PSN:" + "a" * 24,
           days_supply=30)


@pytest.mark.parametrize("world", [_only_receipts, _dispenses_without_prescribers,
                                   _one_movement, _unknown_professionals, _counts_only,
                                   _all_after_now, _one_patient_everywhere])
def test_no_detector_fails_on_degenerate_data(engine, session, world):
    base_products(session)
    world(session)
    session.commit()
    report = run_all(engine, now=T + dt.timedelta(days=1))
    assert not report.errors, report.errors
