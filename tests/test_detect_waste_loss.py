"""Waste share, self-witnessed and unwitnessed waste, loss reports and repeated losses."""

from __future__ import annotations

import datetime as dt
import random

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from tests.detect_factory import FENT_AMP, base_products, days, est, mv

T0 = dt.datetime(2025, 2, 3, 15)


def _by_subject(session, detector):
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector=detector)}


def _nurse(session, nid, given, n=50, birth_year=1970, witness=None, unwitnessed=0,
           self_witnessed=0, hospital="H1"):
    for j in range(n):
        at = days(T0, j * 3)
        mv(session, "administer", hospital, FENT_AMP, given, at, patient_id=f"PSN:{nid}{j}",
           professional_id=nid, patient_birth_year=birth_year)
        w = None if j < unwitnessed else (witness or "CEP-WIT")
        if unwitnessed <= j < unwitnessed + self_witnessed:
            w = nid
        mv(session, "waste", hospital, FENT_AMP, round(1 - given, 3), at, professional_id=nid,
           witness_id=w)


def test_waste_share_against_colleagues_and_pediatric_band(session):
    rng = random.Random(11)
    base_products(session)
    est(session, "H1", "hospital")
    for i in range(10):
        _nurse(session, f"CEP-A{i}", round(rng.uniform(0.55, 0.65), 2))
    for i in range(9):  # pediatric anaesthesia wastes most of each ampoule, legitimately
        _nurse(session, f"CEP-P{i}", round(rng.uniform(0.08, 0.14), 2), birth_year=2021)
    _nurse(session, "CEP-PEDX", 0.1, birth_year=2020)  # look-alike
    _nurse(session, "CEP-DIV", 0.2)  # adult patients, 80 % wasted
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "waste_share")
    assert set(alerts) == {"CEP-DIV"}
    ev = alerts["CEP-DIV"].evidence
    # Judged against her own ward's adult colleagues (the national comparison is not used
    # where that is possible).
    assert abs(ev["observed"] - 0.8) < 1e-6 and ev["expected"] < 0.5
    assert ev["peers"] == 10 and ev["days"] >= 5 and ev["excess_units"] > 10


def test_a_ward_whose_habit_is_to_waste_residue_is_not_flagged_nationally(session):
    """Quirk: theatres give whole ampoules (nothing wasted) while an ICU's nurses waste the
    residue of each infusion they close (about a quarter), and so do the four nurses of a small
    clinic (too few for the same-ward test). Nationally they are far above the median; against
    their own colleagues they are not. A nurse of that ICU who wastes
    two thirds is still flagged, and so is an outlier at a small clinic without colleagues to
    compare with (the national comparison remains for her)."""
    rng = random.Random(5)
    base_products(session)
    for h in ("OR1", "OR2", "OR3", "ICU", "CLIN", "SMALL"):
        est(session, h, "hospital")
    for i in range(3):  # a small clinic whose nurses all waste the residue: a habit
        _nurse(session, f"CEP-SMALL{i}", round(rng.uniform(0.7, 0.76), 2), n=40, hospital="SMALL")
    # ... the busiest of them a little more (a third above her colleagues over 120 doses)
    _nurse(session, "CEP-SMALLBUSY", 0.64, n=120, hospital="SMALL")
    for h in ("OR1", "OR2", "OR3"):
        for i in range(8):
            _nurse(session, f"CEP-{h}{i}", round(rng.uniform(0.97, 0.99), 3), n=40, hospital=h)
    for i in range(7):
        _nurse(session, f"CEP-ICU{i}", round(rng.uniform(0.72, 0.78), 2), n=40, hospital="ICU")
    _nurse(session, "CEP-ICUX", 0.33, n=40, hospital="ICU")
    _nurse(session, "CEP-CLINX", 0.4, n=40, hospital="CLIN")
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "waste_share")
    assert set(alerts) == {"CEP-ICUX", "CEP-CLINX"}
    assert alerts["CEP-ICUX"].evidence["peers"] == 7


def test_waste_without_independent_witness_against_colleagues(session):
    base_products(session)
    est(session, "H1", "hospital")
    for i in range(8):
        _nurse(session, f"CEP-OK{i}", 0.6, n=30)
    _nurse(session, "CEP-SELF", 0.6, n=30, self_witnessed=12)
    _nurse(session, "CEP-UNW", 0.6, n=30, unwitnessed=10)
    _nurse(session, "CEP-ONCE", 0.6, n=30, unwitnessed=1)  # one clerical slip: not flagged
    _nurse(session, "CEP-SELF1", 0.6, n=30, self_witnessed=1)  # one self-signed waste: not flagged
    session.commit()
    run_all(session)
    unw = _by_subject(session, "waste_unwitnessed")
    assert set(unw) == {"CEP-UNW", "CEP-SELF"}
    assert unw["CEP-UNW"].evidence["observed"] == 10
    assert unw["CEP-SELF"].evidence["self_witnessed"] == 12
    assert all(a.evidence["p_value"] < 1e-3 for a in unw.values())
    assert session.query(Alert).count() == 2  # no per-occurrence alerts


def test_a_ward_habit_of_self_witnessing_is_not_a_finding(session):
    """Quirk: at some hospitals every nurse signs as her own witness (a workaround, not theft)."""
    base_products(session)
    est(session, "H1", "hospital")
    est(session, "H2", "hospital")
    for i in range(8):
        _nurse(session, f"CEP-OK{i}", 0.6, n=30)
    for i in range(6):  # the whole ward at H2 self-witnesses most waste
        _nurse(session, f"CEP-H2{i}", 0.6, n=30, self_witnessed=20 + i, hospital="H2")
    _nurse(session, "CEP-NIGHT", 0.6, n=30, unwitnessed=2)
    session.commit()
    run_all(session)
    assert _by_subject(session, "waste_unwitnessed") == {}


def test_every_loss_is_reported_and_repeated_losses_scaled_by_throughput(session):
    base_products(session)
    est(session, "SMALL")
    est(session, "BIG", "hospital")
    for j in range(10):
        mv(session, "dispense", "SMALL", FENT_AMP, 10, days(T0, 10 * j), patient_id=f"PSN:s{j}",
           prescriber_id="CMP-1", prescription_id=f"R{j}")
        mv(session, "administer", "BIG", FENT_AMP, 10000, days(T0, 10 * j), patient_id=f"PSN:b{j}")
    for j in range(3):
        mv(session, "loss", "SMALL", FENT_AMP, 5, days(T0, 20 * j + 1))
    for j in range(2):  # two breakages over 100 000 units: what a big hospital expects
        mv(session, "loss", "BIG", FENT_AMP, 1, days(T0, 30 * j + 2))
    session.commit()
    run_all(session)
    reports = session.query(Alert).filter_by(detector="loss_report").all()
    # One open alert per establishment; each loss is an occurrence with its own window.
    assert len(reports) == 2
    assert {a.subject_id: a.evidence["occurrence_count"] for a in reports} == {"SMALL": 3, "BIG": 2}
    # Five units of fentanyl reach the police; a one-ampoule breakage stays low and regional.
    assert all("PNP-DIRANDRO" in a.routed_to for a in reports if a.subject_id == "SMALL")
    assert all(a.severity == "low" and "PNP-DIRANDRO" not in a.routed_to
               for a in reports if a.subject_id == "BIG")
    repeated = _by_subject(session, "repeated_loss")
    assert set(repeated) == {"SMALL"}
    ev = repeated["SMALL"].evidence
    assert ev["observed"] == 3 and ev["expected"] < 0.1 and ev["units_lost"] == 15


def test_one_theft_booked_as_several_rows_is_one_loss_event(session):
    # ONE booked a theft of three lots on one day (three rows): one incident, not three.
    base_products(session)
    for e in ("ONE", "TWO"):
        est(session, e)
        for j in range(10):
            mv(session, "dispense", e, FENT_AMP, 10, days(T0, 10 * j), patient_id=f"PSN:{e}{j}",
               prescriber_id="CMP-1", prescription_id=f"R{e}{j}")
    est(session, "BIG", "hospital")  # the national rate: one breakage in 100 000 units
    for j in range(10):
        mv(session, "administer", "BIG", FENT_AMP, 10000, days(T0, 10 * j), patient_id=f"PSN:b{j}")
    mv(session, "loss", "BIG", FENT_AMP, 1, days(T0, 2))
    for lot in ("L1", "L2", "L3"):
        mv(session, "loss", "ONE", FENT_AMP, 5, days(T0, 11), lot=lot)
    for j in range(3):
        mv(session, "loss", "TWO", FENT_AMP, 5, days(T0, 20 * j + 1))
    session.commit()
    run_all(session, only=["repeated_loss"])
    repeated = _by_subject(session, "repeated_loss")
    assert set(repeated) == {"TWO"}
    assert repeated["TWO"].evidence["observed"] == 3


def _shift_nurse(session, rng, nid, given, n, hospital, start=0, every=2, birth_year=1970):
    """A nurse with ``n`` shifts, one dose a shift drawn from ``given`` (lo, hi) ampoules."""
    for j in range(n):
        at = days(T0, start + j * every) + dt.timedelta(hours=rng.randint(0, 8))
        dose = round(rng.uniform(*given), 2)
        mv(session, "administer", hospital, FENT_AMP, dose, at, patient_id=f"PSN:{nid}{j}",
           professional_id=nid, patient_birth_year=birth_year)
        mv(session, "waste", hospital, FENT_AMP, round(1 - dose, 2), at + dt.timedelta(minutes=20),
           professional_id=nid, witness_id="CEP-WIT")


def test_waste_share_of_a_low_volume_nurse_against_her_own_ward(session):
    """Pattern: a nurse with few shifts wastes twice her ward's share for three months. Across
    the country she is unremarkable (other hospitals' wards waste more by habit, with bigger
    ampoules for small doses), so only her own colleagues, day by day, show it. Look-alikes: a
    colleague of that high-waste ward with as few shifts, a ward nurse with one dropped ampoule,
    and a nurse of the same ward caring for children."""
    rng = random.Random(5)
    base_products(session)
    # Wards waste 20 %, 30 %, 45 % and 60 % of each ampoule by habit (ampoule sizes, doses).
    for h, given in (("H1", (0.7, 0.9)), ("H2", (0.3, 0.5)), ("H3", (0.6, 0.8)), ("H4", (0.45, 0.65))):
        est(session, h, "hospital")
        for i in range(6):
            _shift_nurse(session, rng, f"CEP-{h}{i}", given, 120, h)
    _shift_nurse(session, rng, "CEP-DIV", (0.7, 0.9), 20, "H1", start=0, every=6)
    _shift_nurse(session, rng, "CEP-DIV", (0.4, 0.55), 16, "H1", start=150, every=6)
    _shift_nurse(session, rng, "CEP-BLOW", (0.3, 0.5), 20, "H2", every=14)  # look-alike
    _shift_nurse(session, rng, "CEP-DROP", (0.7, 0.9), 20, "H1", every=14)  # look-alike
    mv(session, "administer", "H1", FENT_AMP, 1, days(T0, 100), patient_id="PSN:DROP",
       professional_id="CEP-DROP")
    mv(session, "waste", "H1", FENT_AMP, 1, days(T0, 100), professional_id="CEP-DROP",
       witness_id="CEP-WIT")  # a dropped ampoule, replaced
    _shift_nurse(session, rng, "CEP-KIDS", (0.05, 0.2), 20, "H1", every=14, birth_year=2021)
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "waste_share")
    assert set(alerts) == {"CEP-DIV"}
    ev = alerts["CEP-DIV"].evidence
    assert ev["metric"].startswith("daily waste share vs colleagues of the same establishment")
    assert ev["peers"] == 7 and ev["excess_units"] >= 3 and ev["p_value"] < 1e-4
    assert ev["expected"] < 0.3 < ev["observed"]


def test_exact_tail_of_a_sum_of_lumpy_days():
    """Quirk: waste is lumpy (mostly a small residue, now and then a whole ampoule), so the tail
    of a sum of days is taken exactly from the colleagues' days, not from a normal curve."""
    import numpy as np
    from scipy import stats

    from centinela.detect.detectors.waste import _sum_sf

    days_ = np.array([0.0] * 90 + [1.0] * 10)  # 1 day in 10 a whole ampoule is wasted
    assert abs(_sum_sf([(days_, 20)], 6) - stats.binom(20, 0.1).sf(5)) < 1e-9
    assert abs(_sum_sf([(days_, 12), (days_, 8)], 6) - stats.binom(20, 0.1).sf(5)) < 1e-9
    normal = stats.norm.sf((6 - 2) / np.sqrt(20 * 0.09))
    assert _sum_sf([(days_, 20)], 6) > normal  # the normal tail is too thin here


def _outlet(session, eid, kind="pharmacy", n=60, qty=10, product=None, lot="L-OK"):
    """An outlet dispensing ``qty`` units every 5 days from 2025-01-06 (lot expiring in 2027)."""
    from tests.detect_factory import FENT_PATCH

    est(session, eid, kind)
    product = product or FENT_PATCH
    start = dt.datetime(2025, 1, 6, 11)
    mv(session, "receipt", eid, product, n * qty, start - dt.timedelta(days=1), lot=lot,
       expiry=dt.date(2027, 6, 30))
    for j in range(n):
        mv(session, "dispense", eid, product, qty, days(start, 5 * j), lot=lot,
           patient_id=f"PSN:{eid}-{j}", prescriber_id="CMP-1", days_supply=30)
    # Ordinary expiry / breakage: two small write-offs a year, witnessed.
    for d in (40, 200):
        mv(session, "waste", eid, product, 2, days(start, d), lot=lot,
           professional_id=f"CQFP-{eid}", witness_id=f"CQFP-{eid}-2")


def test_disposal_share_flags_inflated_expiry_waste_not_expired_batches(session):
    """Quirk (foreign world): a pharmacy declares 10-20 % of its throughput as "expired" waste
    every ~12 days, on lots far from expiry, always with the same witness. Look-alikes of the
    same kind: a pharmacy destroying a genuinely expired batch (known expiry before the waste),
    one destroying a whole batch once, or over a few days (the largest write-off episode is set
    aside)."""
    from tests.detect_factory import FENT_PATCH

    base_products(session)
    for i in range(10):
        _outlet(session, f"F{i}")
    _outlet(session, "F-INFL")
    for k in range(20):  # 5 patches every 12 days from March: ~14 % of 700 units handled
        mv(session, "waste", "F-INFL", FENT_PATCH, 5, dt.datetime(2025, 3, 3, 19) + dt.timedelta(days=12 * k),
           lot="L-OK", professional_id="CQFP-INFL", witness_id="CQFP-SAME")
    _outlet(session, "F-EXP")
    mv(session, "receipt", "F-EXP", FENT_PATCH, 120, dt.datetime(2024, 6, 1, 10), lot="L-OLD",
       expiry=dt.date(2025, 4, 30))
    for k in range(3):  # the expired batch destroyed in three goes, after its expiry date
        mv(session, "waste", "F-EXP", FENT_PATCH, 40, dt.datetime(2025, 5, 5, 10) + dt.timedelta(days=7 * k),
           lot="L-OLD", professional_id="CQFP-F-EXP", witness_id="CQFP-F-EXP-2")
    _outlet(session, "F-ONCE")
    mv(session, "waste", "F-ONCE", FENT_PATCH, 90, dt.datetime(2025, 7, 1, 10),
       professional_id="CQFP-F-ONCE", witness_id="CQFP-F-ONCE-2")  # a batch destroyed once
    _outlet(session, "F-BATCH")
    for d in (0, 2, 5):  # a batch of unknown expiry destroyed over a week: one episode
        mv(session, "waste", "F-BATCH", FENT_PATCH, 60, dt.datetime(2025, 9, 1, 10) + dt.timedelta(days=d),
           professional_id="CQFP-F-BATCH", witness_id="CQFP-F-BATCH-2")
    session.commit()
    run_all(session, only=["disposal_share"])
    alerts = _by_subject(session, "disposal_share")
    assert set(alerts) == {"F-INFL"}
    a = alerts["F-INFL"]
    ev = a.evidence
    assert a.severity in ("medium", "high", "critical")
    assert ev["peer_group"] == "pharmacy" and ev["peers"] >= 10
    assert 0.1 < ev["observed"] < 0.2 and ev["expected"] < 0.02
    assert ev["far_from_expiry_units"] >= 90 and ev["top_witness"] == "CQFP-SAME"
    assert ev["top_witness_share"] >= 0.9 and "mismo testigo" in a.summary


def test_disposal_share_leaves_hospital_residue_and_one_off_breakage(session):
    """Quirk: in hospitals the rest of each ampoule is wasted after a dose (anaesthesia),
    often the larger part; that residue is recorded by the nurse who administers and is judged
    per professional (waste_share), not as stock written off. A box of 48 ampoules dropped
    once is one event. A residue row without the professional is still a fraction of an
    ampoule. A hospital whose pharmacy keeps writing off whole ampoules is flagged."""
    base_products(session)
    start = dt.datetime(2025, 1, 6, 8)
    for h in range(11):
        hid = f"H{h}"
        est(session, hid, "hospital")
        given = 0.3 if h == 0 else 0.6  # H0: paediatric-like, 70 % of each ampoule wasted
        for j in range(150):
            at = start + dt.timedelta(days=2 * j, hours=3)
            nurse = f"CEP-{hid}-{j % 3}"
            mv(session, "administer", hid, FENT_AMP, given, at, patient_id=f"PSN:{hid}{j}",
               professional_id=nurse)
            # H3 leaves the professional out of a third of its residue rows.
            named = None if h == 3 and j % 3 == 0 else nurse
            mv(session, "waste", hid, FENT_AMP, round(1 - given, 2), at, professional_id=named,
               witness_id=f"CEP-{hid}-W")
        for d in (50, 180):  # ordinary breakage
            mv(session, "waste", hid, FENT_AMP, 1, days(start, d), professional_id=f"CQFP-{hid}",
               witness_id=f"CEP-{hid}-W")
    mv(session, "waste", "H1", FENT_AMP, 48, days(start, 120), professional_id="CQFP-H1",
       witness_id="CEP-H1-W")  # a dropped box
    for k in range(12):  # H2's pharmacy writes off 4 whole ampoules every 3 weeks
        mv(session, "waste", "H2", FENT_AMP, 4, days(start, 30 + 21 * k), professional_id="CQFP-H2",
           witness_id="CQFP-H2-B")
    session.commit()
    run_all(session, only=["disposal_share"])
    alerts = _by_subject(session, "disposal_share")
    assert set(alerts) == {"H2"}
    assert alerts["H2"].evidence["peer_group"] == "hospital"


def test_breakage_witnessed_apart_from_doses_does_not_make_a_small_clinic_nurse_a_waster(session):
    """Quirk (three of four fresh foreign worlds): at a hospital of three nurses, too few for the
    same-ward test, a nurse who handled about twenty ampoules dropped four on three days she
    gave no dose, each written off with a pharmacist as witness: nationally she read as
    wasting ~18 % against a 2 % median, flagged. Whole units written off apart from her doses
    under an independent witness are not dose residue and stay out of the national comparison.
    Still flagged: a nurse of a like clinic whose residue after each dose is inflated, and one
    whose "breakages" apart from her doses carry no independent witness."""
    rng = random.Random(21)
    base_products(session)
    for h in ("OR1", "OR2", "OR3", "SMALLA", "SMALLB", "SMALLC"):
        est(session, h, "hospital")
    for h in ("OR1", "OR2", "OR3"):
        for i in range(8):
            _nurse(session, f"CEP-{h}{i}", round(rng.uniform(0.97, 0.99), 3), n=40, hospital=h)
    for h in ("SMALLA", "SMALLB", "SMALLC"):
        for i in range(2):
            _nurse(session, f"CEP-{h}{i}", round(rng.uniform(0.97, 0.99), 3), n=20, hospital=h)
    _nurse(session, "CEP-BREAK", 0.98, n=20, hospital="SMALLA")
    _nurse(session, "CEP-SKIM", 0.6, n=20, hospital="SMALLB")
    _nurse(session, "CEP-SELFBREAK", 0.98, n=20, hospital="SMALLC")
    for d, q in ((10, 1), (31, 2), (52, 1)):  # midday of a day with no dose of hers (every 3 d)
        at = days(T0, d) + dt.timedelta(hours=-3)
        mv(session, "waste", "SMALLA", FENT_AMP, q, at, professional_id="CEP-BREAK",
           witness_id="CQFP-SMALLA")
        mv(session, "waste", "SMALLC", FENT_AMP, q, at, professional_id="CEP-SELFBREAK",
           witness_id="CEP-SELFBREAK")
    session.commit()
    run_all(session)
    assert set(_by_subject(session, "waste_share")) == {"CEP-SKIM", "CEP-SELFBREAK"}
