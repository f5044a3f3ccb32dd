"""What each detector reads: the window of movements it judges and the history before it.

Batch detection judges the lookback window (``lookback_days`` up to ``now``). Baselines need
history before it; each detector declares how many days of raw movements it reads before the
window (``HISTORY_DAYS``, at most ~120: the patient rules' look-back) and, for the baselines of
a year or more, how many days of history it reads as database aggregates (``AGGREGATE_DAYS``,
``centinela.detect.aggregates``). Both are capped by the ``detect_history_days`` setting, so
neither the movements loaded nor the aggregates grow with the years stored.
Detectors that follow one object through all time (a serial number, a seized lot) read a
narrow frame instead: every movement of the serials or lots the window touches, at any date.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from centinela.ledger.records import Movement

DEFAULT_HISTORY_DAYS = 400

# Days of raw movements before the lookback window each detector reads (a run loads the
# largest; at most 120 for the built-ins). A detector not listed, without a ``history_days``
# attribute, gets DEFAULT_HISTORY_DAYS (the conservative choice for a new detector).
HISTORY_DAYS: dict[str, int] = {
    "unauthorized_receiver": 0,
    "loss_report": 0,
    "uncertified_handler": 0,
    "dispense_high_mme": 0,  # prior dispensations come from its own query
    "transfer_not_received": 30,  # receipts booked up to 2 × transfer_receipt_days early
    "repeated_loss": 0,
    "waste_share": 31,
    "waste_unwitnessed": 31,
    "whole_unit_administrations": 0,  # the window's administrations and wastes
    "late_administration": 14,  # the start of the courses that run into the window
    "prescriber_volume": 0,  # its 90-day windows lie in the lookback; history: aggregates
    "early_refills": 31,  # the supply before a window's first renewal (a month's)
    "prescriber_scope": 0,  # each dispense is judged on its own
    "pharmacy_patient_mix": 120,  # whether a patient had opioids in the 120 days before
    "multiple_providers": 120,  # pdmp_window_days before the window (90 by default)
    "overlapping_prescriptions": 120,
    "high_mme": 120,
    "suspicious_order": 31,  # the month the window starts in (evidence); history: aggregates
    "purchases_outgrow_use": 0,
    "inventory_discrepancy": 95,  # the count before the window and its booking lag
    "unrecorded_supply": 0,  # the window's book: its counts, else its first 60 days
    "regional_surge": 31,  # the month the window starts in; history: aggregates
    "opioid_benzodiazepine_overlap": 0,  # reads its own year of dispensations
    "coprescribing_prescriber": 0,
    "prescription_form_misuse": 0,  # reads every use of each form itself
    "balance_gap": 0,  # reconciles the periodic balances itself
    "dispense_without_prescription": 0,  # reads the rejected rows and a count itself
    "regional_outlier": 0,
}

# Days of history before the window that a detector reads as aggregates (per subject × month,
# computed by the database; ``DetectionContext.history``) rather than as raw movements.
AGGREGATE_DAYS: dict[str, int] = {
    "prescriber_volume": 365,  # a prescriber's own history (≥ 60 days) before each window
    "suspicious_order": 400,  # 12 months before each judged month, from month starts
    "purchases_outgrow_use": 400,  # when each establishment × substance series began
    "regional_surge": 365,  # 6-month baselines and the dispersion of a year of months
}

# Detectors that trace one object through its whole history read their own narrow frame.
OBJECT_FRAMES: dict[str, str] = {
    "serial_reuse": "serials",
    "seizure_trace": "seized",
}


def history_days(name: str, cap: int, declared: int | None = None) -> int | None:
    """Return the days of raw movements ``name`` loads before the window (None: all history).

    ``declared`` (a detector's ``history_days`` attribute) overrides the table."""
    if cap < 0:
        return None
    days = declared if declared is not None else HISTORY_DAYS.get(name, DEFAULT_HISTORY_DAYS)
    return min(days, cap)


def aggregate_days(name: str, cap: int) -> int:
    """Return the days of history before the window ``name`` reads as aggregates (0: none)."""
    return min(AGGREGATE_DAYS.get(name, 0), max(cap, 0))


def window_filter(now: dt.datetime, since: dt.datetime | None):
    """Movements up to ``now`` and, when ``since`` is set, from ``since`` on."""
    cond = Movement.occurred_at <= now
    return cond if since is None else and_(Movement.occurred_at >= since, cond)


def object_filter(kind: str, now: dt.datetime, start: dt.datetime, session: Session):
    """Every movement up to ``now`` of the serials (or seized lots/serials) of the window.

    The seized lots and serials (a short list) are read first and passed as values: a subquery
    inside an OR made PostgreSQL scan every partition of ten years."""
    if kind == "serials":
        used = select(Movement.serial).where(
            Movement.occurred_at >= start, Movement.occurred_at <= now,
            Movement.serial.is_not(None)).distinct()
        return and_(Movement.occurred_at <= now, Movement.serial.in_(used))
    if kind == "seized":
        return _seized_filter(now, start, session)
    raise ValueError(f"unknown object frame {kind!r}")


def _seized_filter(now: dt.datetime, start: dt.datetime, session: Session):
    from centinela.ledger.records import Seizure

    window = and_(Seizure.occurred_at <= now, Seizure.occurred_at >= start)
    lots = sorted(set(session.scalars(select(Seizure.lot).where(window,
                                                                 Seizure.lot.is_not(None)))))
    serials = sorted(set(session.scalars(select(Seizure.serial).where(
        window, Seizure.serial.is_not(None)))))
    if not lots and not serials:
        return false()
    # A lot copied off a box by the police may differ from the ledger's in case, spaces or
    # dashes: the usual spellings are passed as values too (an index lookup, not a scan).
    lots = sorted({v for lot in lots for v in lot_spellings(lot)})
    return and_(Movement.occurred_at <= now,
                or_(Movement.lot.in_(lots) if lots else false(),
                    Movement.serial.in_(serials) if serials else false()))


def lot_spellings(lot: str) -> set[str]:
    """The spellings of a lot that a person copying it may have changed: as given, trimmed,
    upper and lower case, and without spaces, dashes, dots or slashes."""
    bare = "".join(ch for ch in lot if ch.isalnum())
    return {v for v in (lot, lot.strip(), lot.strip().upper(), lot.strip().lower(),
                        bare.upper(), bare.lower()) if v}
