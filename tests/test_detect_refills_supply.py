"""early_refills (a prescriber's renewals long before the last supply runs out),
unrecorded_supply (outflows with no recorded supply) and the palliative intensity notice.

Each planted pattern sits among ordinary peers and beside its legitimate look-alike."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from tests.detect_factory import FENT_AMP, FENT_PATCH, base_products, days, est, mv, prof

T0 = dt.datetime(2025, 1, 2, 15, 0)


def _alerts(session, name):
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector=name)}


def _refill_world(session, refill_days: int, titrate: bool = False, n_patients: int = 12) -> None:
    """Twenty ordinary prescribers renewing 30-day patch supplies every 28-31 days, and one
    (CMP-X, new in April) whose renewals come every ``refill_days`` days."""
    base_products(session)
    for e in range(6):
        est(session, f"PH-{e}")
    for d in range(20):
        pid = prof(session, f"CMP-{d:03d}", specialty="general_medicine")
        for p in range(3):
            for k in range(10):
                mv(session, "dispense", f"PH-{(d + p) % 6}", FENT_PATCH, 10,
                   days(T0, k * (28 + (d + p + k) % 4)), prescriber_id=pid,
                   patient_id=f"PSN:{d:03d}{p}", days_supply=30)
    prof(session, "CMP-X", specialty="general_medicine")
    start = days(T0, 90)
    for p in range(n_patients):
        qty = 10
        for k in range(8):
            if titrate:
                qty = 10 + 5 * k  # a titration up: each renewal a higher daily dose
            mv(session, "dispense", f"PH-{p % 6}", FENT_PATCH, qty,
               days(start, k * refill_days + p), prescriber_id="CMP-X",
               patient_id=f"PSN:X{p:02d}", days_supply=30)
    session.flush()


def test_a_new_prescriber_renewing_every_ten_days_is_flagged(session):
    _refill_world(session, refill_days=10)
    run_all(session, only=["early_refills"])
    found = _alerts(session, "early_refills")
    assert set(found) == {"CMP-X"}
    ev = found["CMP-X"].evidence
    assert ev["early_renewals"] == ev["renewals"] == 12 * 7 and ev["patients"] == 12
    assert found["CMP-X"].severity in ("high", "critical")
    assert ev["days_ahead"] > 12 * 7 * 15  # 20 of every 30 days handed out ahead of need


def test_a_titration_up_is_not_an_early_renewal(session):
    _refill_world(session, refill_days=10, titrate=True)
    run_all(session, only=["early_refills"])
    assert _alerts(session, "early_refills") == {}


def test_ordinary_renewals_and_a_couple_of_patients_are_not_flagged(session):
    _refill_world(session, refill_days=27)
    run_all(session, only=["early_refills"])
    assert _alerts(session, "early_refills") == {}


def test_a_fill_split_across_two_lots_is_not_an_early_renewal(session):
    """Quirk (outside world): a pharmacy completing each monthly patch supply from two lots
    books two rows minutes apart, each with the course's 30 days."""
    base_products(session)
    for e in range(6):
        est(session, f"PH-{e}")
    for d in range(20):
        pid = prof(session, f"CMP-{d:03d}", specialty="general_medicine")
        for p in range(10 if d < 1 else 3):
            for k in range(10):
                at = days(T0, k * 30 + p)
                mv(session, "dispense", f"PH-{(d + p) % 6}", FENT_PATCH, 10, at, prescriber_id=pid,
                   patient_id=f"PSN:{d:03d}{p}", days_supply=30, lot="L-A")
                if d < 1:  # this prescriber's patients fill at the splitting pharmacy
                    mv(session, "dispense", f"PH-{(d + p) % 6}", FENT_PATCH, 5,
                       at + dt.timedelta(minutes=3), prescriber_id=pid,
                       patient_id=f"PSN:{d:03d}{p}", days_supply=30, lot="L-B")
    session.flush()
    run_all(session, only=["early_refills"])
    assert _alerts(session, "early_refills") == {}


def _stock_world(session, dispensed_per_month: int, counted: bool = True) -> None:
    """Pharmacies receiving 20 patches a month and dispensing ~20; PH-X dispenses more."""
    base_products(session)
    for e in ("PH-A", "PH-B", "PH-X"):
        est(session, e)
        out = dispensed_per_month if e == "PH-X" else 20
        level = 10.0
        for m in range(9):
            first = days(T0, 30 * m)
            if counted:
                mv(session, "count", e, FENT_PATCH, level, first)
            mv(session, "receipt", e, FENT_PATCH, 20, days(first, 2), counterparty_id="DIST")
            for k in range(out // 10):
                mv(session, "dispense", e, FENT_PATCH, 10, days(first, 5 + 2 * k),
                   patient_id=f"PSN:{e}{m}{k}", days_supply=30)
            # The shelf as it is: what came in (booked or not) minus what went out.
            level = max(level + 20 - (out // 10) * 10, 0.0) if e != "PH-X" else 5.0
    session.flush()


def test_a_pharmacy_dispensing_beyond_its_receipts_is_flagged_with_or_without_counts(session):
    _stock_world(session, dispensed_per_month=60)
    run_all(session, only=["unrecorded_supply"])
    found = _alerts(session, "unrecorded_supply")
    assert set(found) == {"PH-X"}
    assert found["PH-X"].evidence["observed"] >= 200


def test_a_book_that_sinks_month_after_month_without_counts_is_flagged(session):
    _stock_world(session, dispensed_per_month=60, counted=False)
    run_all(session, only=["unrecorded_supply"])
    assert set(_alerts(session, "unrecorded_supply")) == {"PH-X"}


def test_an_opening_stock_never_counted_and_a_late_receipt_are_not_flagged(session):
    base_products(session)
    est(session, "PH-O")
    # An opening shelf of 40 patches used in the first month, then receipts = dispenses, one
    # receipt booked five days after the patches it covered went out.
    for k in range(4):
        mv(session, "dispense", "PH-O", FENT_PATCH, 10, days(T0, 3 + 5 * k),
           patient_id=f"PSN:O{k}", days_supply=30)
    for m in range(1, 9):
        first = days(T0, 30 * m)
        lag = 5 if m == 5 else -1
        mv(session, "receipt", "PH-O", FENT_PATCH, 20, days(first, 2 + lag), counterparty_id="D")
        for k in range(2):
            mv(session, "dispense", "PH-O", FENT_PATCH, 10, days(first, 1 + 2 * k),
               patient_id=f"PSN:O{m}{k}", days_supply=30)
    session.flush()
    run_all(session, only=["unrecorded_supply"])
    assert _alerts(session, "unrecorded_supply") == {}


def test_a_ward_booking_residues_as_waste_on_top_of_full_ampoules_is_not_flagged(session):
    base_products(session)
    est(session, "HOSP", kind="hospital")
    nurse = prof(session, "CEP-1", role="nurse")
    for w in range(30):
        week = days(T0, 7 * w)
        mv(session, "count", "HOSP", FENT_AMP, 20, week)
        mv(session, "receipt", "HOSP", FENT_AMP, 10, days(week, 1), counterparty_id="D")
        for k in range(10):  # a full ampoule booked as given, and its residue as waste too
            mv(session, "administer", "HOSP", FENT_AMP, 1, days(week, 2), professional_id=nurse,
               patient_id=f"PSN:H{w}{k}")
            mv(session, "waste", "HOSP", FENT_AMP, 0.4, days(week, 2), professional_id=nurse,
               witness_id="CEP-2")
    session.flush()
    run_all(session, only=["unrecorded_supply"])
    assert _alerts(session, "unrecorded_supply") == {}


def test_a_palliative_prescribers_stable_high_doses_are_a_low_notice(session):
    base_products(session)
    est(session, "PH-P")
    for d in range(10):
        pid = prof(session, f"CMP-P{d}", specialty="palliative_care")
        dose = 60 if d else 300  # CMP-P0: five times the patches per patient, every month
        for p in range(8):
            for k in range(9):
                mv(session, "dispense", "PH-P", FENT_PATCH, dose // 6,
                   days(T0, 30 * k + p), prescriber_id=pid, patient_id=f"PSN:P{d}{p}",
                   days_supply=30)
    session.flush()
    run_all(session, only=["prescriber_volume"])
    found = _alerts(session, "prescriber_volume")
    assert "CMP-P0" in found and found["CMP-P0"].severity == "low"
    assert found["CMP-P0"].evidence["capped_low"] is True


def test_a_dispense_booked_a_day_before_its_receipt_is_not_flagged(session):
    """A new pharmacy: 2 patches counted, 15 dispensed, the 50 received that covered them
    booked the next day (a clerk's lag, not units from nowhere)."""
    base_products(session)
    est(session, "PH-N")
    mv(session, "count", "PH-N", FENT_PATCH, 2, days(T0, 200))
    mv(session, "dispense", "PH-N", FENT_PATCH, 15, days(T0, 245), patient_id="PSN:N1",
       days_supply=30)
    mv(session, "receipt", "PH-N", FENT_PATCH, 50, days(T0, 246), counterparty_id="D")
    mv(session, "dispense", "PH-N", FENT_PATCH, 15, days(T0, 275), patient_id="PSN:N2",
       days_supply=30)
    mv(session, "dispense", "PH-N", FENT_PATCH, 1, days(T0, 300), patient_id="PSN:N3",
       days_supply=3)
    session.flush()
    run_all(session, only=["unrecorded_supply"])
    assert _alerts(session, "unrecorded_supply") == {}


def test_one_miscount_at_the_first_count_is_not_a_shelf_fed_off_the_books(session):
    """The first count says 4 where 100 had just been received; every later count agrees with
    the books: the gap is constant (one miscount), not growing."""
    base_products(session)
    est(session, "CLIN", kind="clinic")
    mv(session, "receipt", "CLIN", FENT_AMP, 100, days(T0, 0), counterparty_id="D")
    mv(session, "count", "CLIN", FENT_AMP, 4, days(T0, 1))
    level = 100.0
    for m in range(1, 10):
        for k in range(8):
            mv(session, "administer", "CLIN", FENT_AMP, 1, days(T0, 30 * m + k),
               patient_id=f"PSN:C{m}{k}")
        level -= 8
        mv(session, "count", "CLIN", FENT_AMP, level, days(T0, 30 * m + 20))
    session.flush()
    run_all(session, only=["unrecorded_supply"])
    assert _alerts(session, "unrecorded_supply") == {}


def test_a_palliative_service_growing_is_at_most_medium(session):
    """A palliative physician whose panel triples and is titrated up (25 → 100 mcg/h) among
    steady palliative peers: growth worth a look, not a diversion finding ranked first."""
    base_products(session)
    est(session, "PH-Q")
    for d in range(10):
        pid = prof(session, f"CMP-Q{d}", specialty="palliative_care")
        for p in range(6):
            for k in range(11):
                mv(session, "dispense", "PH-Q", FENT_PATCH, 10, days(T0, 30 * k + p),
                   prescriber_id=pid, patient_id=f"PSN:Q{d}{p}", days_supply=30)
    grow = prof(session, "CMP-GROW", specialty="palliative_care")
    for p in range(30):
        first = 0 if p < 6 else 240  # 6 patients all year, 24 new ones in the last quarter
        for k in range(first // 30, 11):
            dose = 10 * min(4, 1 + max(0, k - 7))  # patches a month: titrated up at the end
            mv(session, "dispense", "PH-Q", FENT_PATCH, dose, days(T0, 30 * k + p % 28),
               prescriber_id=grow, patient_id=f"PSN:G{p:02d}", days_supply=30)
    session.flush()
    run_all(session, only=["prescriber_volume"])
    found = _alerts(session, "prescriber_volume")
    assert "CMP-GROW" in found, sorted(found)
    assert found["CMP-GROW"].severity in ("low", "medium")
    assert found["CMP-GROW"].evidence["criterion"] != "intensity" \
        or found["CMP-GROW"].evidence["capped_low"]


def test_a_shelf_counted_thousands_of_times_is_judged_in_bounded_memory(session):
    """An institution's batch held 70,000 counts of one shelf: the pairwise slopes of the count
    gaps took O(n²) memory (4.6 GiB for the mask alone) and the kernel killed detection and the
    web app. The slopes now use at most a few hundred evenly spaced counts: the same finding,
    in bounded memory (3,000 counts here: ~150 MB before, a few MB now)."""
    import tracemalloc

    from sqlalchemy import insert

    from centinela.ledger.records import Movement

    base_products(session)
    est(session, "PH-C")
    # Counted every two hours for eight months while 1 unit a day leaves unbooked.
    rows, level = [], 3000.0
    for k in range(3000):
        at = T0 + dt.timedelta(hours=2 * k)
        rows.append({"event_id": f"C{k}", "event_type": "count", "occurred_at": at,
                     "establishment_id": "PH-C", "product_code": FENT_PATCH,
                     "quantity": level + (k // 12), "content_hash": f"{k:032d}"})
    session.execute(insert(Movement), rows)
    for m in range(8):
        mv(session, "dispense", "PH-C", FENT_PATCH, 1, days(T0, 30 * m + 3),
           patient_id=f"PSN:c{m}", days_supply=30)
    session.flush()
    tracemalloc.start()
    try:
        run_all(session, only=["unrecorded_supply"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60 * 2**20, peak
    found = _alerts(session, "unrecorded_supply")
    assert set(found) == {"PH-C"} and found["PH-C"].evidence["counts"] == 3000
