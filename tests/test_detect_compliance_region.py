"""Certification after the deadline, and regional surges against history and the nation."""

from __future__ import annotations

import datetime as dt
import random

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from tests.detect_factory import FENT_AMP, FENT_PATCH, MORPH_TAB, base_products, days, est, mv, prof


def _by_subject(session, detector):
    return {a.subject_id: a for a in session.query(Alert).filter_by(detector=detector)}


def test_uncertified_fentanyl_handlers_after_the_deadline(session):
    base_products(session)
    est(session, "F1")
    prof(session, "CQFP-NONE", role="pharmacist")
    prof(session, "CQFP-VALID", role="pharmacist", certified=dt.date(2025, 6, 1))
    prof(session, "CQFP-EXPIRED", role="pharmacist", certified=dt.date(2024, 6, 1))
    prof(session, "CQFP-MORPH", role="pharmacist")
    prof(session, "CEP-NURSE", role="nurse")
    prof(session, "CMP-DOC", specialty="oncology", certified=dt.date(2025, 3, 1))
    after = dt.datetime(2026, 2, 10, 15)  # deadline: go-live 2025-01-01 + 365 days
    before = dt.datetime(2025, 12, 10, 15)
    for pid in ("CQFP-NONE", "CQFP-VALID", "CQFP-EXPIRED"):
        mv(session, "dispense", "F1", FENT_AMP, 2, after, professional_id=pid,
           prescriber_id="CMP-DOC", patient_id="PSN:p1", prescription_id="R1")
    mv(session, "dispense", "F1", MORPH_TAB, 2, after, professional_id="CQFP-MORPH",
       prescriber_id="CMP-DOC", patient_id="PSN:p2", prescription_id="R2")
    mv(session, "administer", "F1", FENT_AMP, 1, after, professional_id="CEP-NURSE",
       patient_id="PSN:p3")
    mv(session, "dispense", "F1", FENT_AMP, 2, before, professional_id="CQFP-NONE",
       prescriber_id="CMP-DOC", patient_id="PSN:p1", prescription_id="R0")
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "uncertified_handler")
    # CMP-DOC's certificate (2025-03-01) expired on 2026-03-01, after these events: valid.
    assert set(alerts) == {"CQFP-NONE", "CQFP-EXPIRED"}
    assert alerts["CQFP-NONE"].evidence["certified_on"] is None
    assert alerts["CQFP-NONE"].evidence["event_count"] == 1  # the December dispense is before
    assert alerts["CQFP-EXPIRED"].evidence["certificate_valid_until"] == "2025-06-01"
    assert alerts["CQFP-NONE"].window_start == dt.datetime(2026, 1, 1, 5)  # the deadline, Lima
    assert alerts["CQFP-EXPIRED"].window_start == dt.datetime(2026, 1, 1, 5)



def test_uncertified_custody_only_handler_is_a_low_compliance_notice(session):
    """A director technician who only signs counts and receipts without a certificate is listed
    (low), while an uncertified pharmacist dispensing to patients is ranked higher (medium+)."""
    base_products(session)
    est(session, "F1")
    est(session, "D1", "distributor")
    prof(session, "CQFP-BOOKS", role="pharmacist")
    prof(session, "CQFP-DISP", role="pharmacist")
    prof(session, "CMP-DOC", specialty="oncology", certified=dt.date(2025, 12, 1))
    for k in range(6):
        at = dt.datetime(2026, 1, 15, 15) + dt.timedelta(days=20 * k)
        mv(session, "count", "D1", FENT_AMP, 400, at, professional_id="CQFP-BOOKS")
        mv(session, "receipt", "D1", FENT_AMP, 200, at, professional_id="CQFP-BOOKS")
        mv(session, "dispense", "F1", FENT_AMP, 2, at, professional_id="CQFP-DISP",
           prescriber_id="CMP-DOC", patient_id=f"PSN:p{k}", prescription_id=f"R{k}")
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "uncertified_handler")
    assert set(alerts) == {"CQFP-BOOKS", "CQFP-DISP"}
    books, disp = alerts["CQFP-BOOKS"], alerts["CQFP-DISP"]
    assert books.severity == "low" and books.evidence["patient_facing_events"] == 0
    assert books.score < 40 and "custodia" in books.summary
    assert disp.severity in ("medium", "high", "critical")
    assert disp.evidence["patients"] == 6 and disp.evidence["patient_facing_events"] == 6

def test_uncertified_handlers_as_a_systemic_gap_are_notices_exceptions_are_graded(session):
    """Quirk: a national registry that carries each professional's first certification date and
    not the renewals — every certificate looks lapsed in 2026. When most handlers (here 24 of
    31: 30 pharmacists and the prescriber) hold no valid certificate, each finding is a compliance notice (low), not 24 alerts
    for the authorities. Where certification is the norm (a second world: 3 of 30), the
    uncertified pharmacist dispensing to patients is graded as usual."""
    base_products(session)
    est(session, "F1")
    prof(session, "CMP-DOC", specialty="oncology", certified=dt.date(2025, 12, 1))
    after = dt.datetime(2026, 2, 10, 15)
    for i in range(30):
        pid = f"CQFP-S{i:02d}"
        prof(session, pid, role="pharmacist",
             certified=dt.date(2024, 3, 1) if i < 24 else dt.date(2025, 11, 1))
        mv(session, "dispense", "F1", FENT_AMP, 2, after + dt.timedelta(days=i), professional_id=pid,
           prescriber_id="CMP-DOC", patient_id=f"PSN:s{i}", prescription_id=f"RS{i}")
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "uncertified_handler")
    assert set(alerts) == {f"CQFP-S{i:02d}" for i in range(24)}
    assert all(a.severity == "low" and a.evidence["systemic"] for a in alerts.values())
    assert alerts["CQFP-S00"].evidence["handlers_without_valid_certificate"] == [24, 31]
    assert "brecha sistémica" in alerts["CQFP-S00"].summary


def test_uncertified_exceptions_where_certification_is_the_norm_are_graded(session):
    base_products(session)
    est(session, "F1")
    prof(session, "CMP-DOC", specialty="oncology", certified=dt.date(2025, 12, 1))
    after = dt.datetime(2026, 2, 10, 15)
    for i in range(30):
        pid = f"CQFP-N{i:02d}"
        prof(session, pid, role="pharmacist",
             certified=dt.date(2024, 3, 1) if i < 3 else dt.date(2025, 11, 1))
        mv(session, "dispense", "F1", FENT_AMP, 2, after + dt.timedelta(days=i), professional_id=pid,
           prescriber_id="CMP-DOC", patient_id=f"PSN:n{i}", prescription_id=f"RN{i}")
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "uncertified_handler")
    assert set(alerts) == {"CQFP-N00", "CQFP-N01", "CQFP-N02"}
    assert all(a.severity != "low" and not a.evidence["systemic"] for a in alerts.values())


def _grace_world(session, certified_share: float) -> None:
    """30 pharmacists dispensing fentanyl in 2025 (the grace year before the 2026-01-01
    deadline); the first ``certified_share`` of them hold a certificate (some of 2019, so
    lapsed by the one-year rule, which is not judged before the deadline); CQFP-G29 none."""
    base_products(session)
    est(session, "F1")
    prof(session, "CMP-DOC", specialty="oncology", certified=dt.date(2024, 12, 1))
    n_cert = round(30 * certified_share)
    for i in range(30):
        pid = f"CQFP-G{i:02d}"
        on = (dt.date(2019, 5, 1) if i % 2 else dt.date(2025, 2, 1)) if i < n_cert else None
        prof(session, pid, role="pharmacist", certified=on)
        for k in range(3):
            mv(session, "dispense", "F1", FENT_AMP, 2, dt.datetime(2025, 3 + 3 * k, 2 + i % 25, 15),
               professional_id=pid, prescriber_id="CMP-DOC", patient_id=f"PSN:g{i}-{k}",
               prescription_id=f"RG{i}-{k}")
    session.commit()


def test_a_never_certified_handler_where_certification_is_the_norm_is_flagged_in_grace(session):
    """Quirk: the data is the grace year, and 29 of 30 pharmacists already hold a certificate
    (some of 2019: lapsed by the one-year rule, not judged before the deadline). The one with
    none at all, dispensing to patients, is listed: a compliance notice (low) while the rule does
    not bind yet."""
    _grace_world(session, 29 / 30)
    run_all(session)
    alerts = _by_subject(session, "uncertified_handler")
    assert set(alerts) == {"CQFP-G29"}
    a = alerts["CQFP-G29"]
    assert a.evidence["in_grace_period"] is True and a.evidence["certified_on"] is None
    assert a.evidence["handlers_never_certified"] == [1, 31]
    assert a.severity == "low" and a.evidence["patients"] == 3


def test_grace_year_of_a_starting_programme_flags_no_one(session):
    """Look-alike: the programme is starting (half of the pharmacists certified so far): the
    grace period is for this, nobody is flagged before the deadline."""
    _grace_world(session, 0.5)
    run_all(session)
    assert _by_subject(session, "uncertified_handler") == {}


def test_between_norm_and_starting_programme_only_the_heaviest_never_certified_is_listed(
        session):
    """Quirk (a foreign world): 89.96 % of handlers certified, just under the 90 % norm, and
    one pharmacist with no certificate dispensing most of a pharmacy's fentanyl. Below the norm
    the rule listed no one; now the never-certified handlers whose patient-facing events are in
    the top decile (and >= 20) are listed, at low; the light ones without one are not."""
    _grace_world(session, 24 / 30)  # 6 of 30 pharmacists without any certificate: 80 %
    for k in range(40):  # CQFP-G29 (never certified) dispenses far more than anyone
        mv(session, "dispense", "F1", FENT_AMP, 1, dt.datetime(2025, 2, 1 + k % 27, 9),
           professional_id="CQFP-G29", prescriber_id=f"CMP-R{k % 3}",
           patient_id=f"PSN:h{k}", prescription_id=f"RH{k}")
    for r in range(3):
        prof(session, f"CMP-R{r}", specialty="oncology", certified=dt.date(2024, 12, 1))
    session.commit()
    run_all(session)
    alerts = _by_subject(session, "uncertified_handler")
    assert set(alerts) == {"CQFP-G29"}
    a = alerts["CQFP-G29"]
    assert a.severity == "low" and a.evidence["in_grace_period"] is True
    assert a.evidence["handlers_never_certified"] == [6, 34]


def _surge_world(session, one_driver: bool):
    """Seven departments, two hospitals and four prescribers each, eight months; a national
    season in May; Cusco (08) doubles in July and August — spread over its prescribers, or
    all of it from one prescriber (``one_driver``)."""
    rng = random.Random(2)
    base_products(session)
    depts = {"01": "010101", "04": "040101", "08": "080101", "13": "130101", "20": "200101",
             "15": "150101", "21": "210101"}
    for code, ubigeo in depts.items():
        for h in "ab":
            est(session, f"H{code}{h}", "hospital", ubigeo=ubigeo)
    t0 = dt.datetime(2025, 1, 1, 15)
    for m in range(8):
        for code in depts:
            n = rng.randint(36, 44)
            if m == 4:
                n = int(n * 1.5)  # a national season: every department rises together
            extra = n if code == "08" and m >= 6 else 0  # Cusco doubles in July and August
            for j in range(n + extra):
                doc = "CMP-08-ONE" if one_driver and j >= n else f"CMP-{code}-{j % 4}"
                mv(session, "dispense", f"H{code}{'ab'[j % 2]}", FENT_PATCH, 1,
                   days(t0, 30 * m + j % 28), patient_id=f"PSN:{code}{m}{j}", prescriber_id=doc)
    # A few days of September: August is complete, September (partial) is never compared.
    for code in depts:
        mv(session, "dispense", f"H{code}a", FENT_PATCH, 1, dt.datetime(2025, 9, 3, 15),
           patient_id=f"PSN:{code}sep", prescriber_id=f"CMP-{code}-0")
    session.commit()
    run_all(session)
    return _by_subject(session, "regional_surge")


def test_regional_surge_vs_national_season(session):
    alerts = _surge_world(session, one_driver=False)
    assert set(alerts) == {"08"}
    a = alerts["08"]
    assert a.subject_kind == "region" and a.department == "08"
    assert a.evidence["months"] == ["2025-07", "2025-08"]
    assert {x["id"] for x in a.evidence["drivers"]["establishments"]} == {"H08a", "H08b"}
    assert a.evidence["drivers"]["prescribers"][0]["id"].startswith("CMP-08-")
    assert a.evidence["single_driver"] is None and a.severity != "low"
    assert "H08" in a.summary and a.evidence["dispersion"] >= 0.01
    assert 1.7 < a.evidence["ratio"] < 2.3
    assert a.evidence["rate_per_100k"] > 0 and a.evidence["population"] > 1_000_000
    assert "DIRESA-08" in a.routed_to


def test_regional_surge_of_one_prescriber_is_a_low_lead_naming_him(session):
    """Quirk of our seed 57: a department's fentanyl dispensing doubles, but the whole excess
    is one general practitioner's new patients (a prescriber the volume detector judges).
    The region is not surging: a low lead that names him."""
    from centinela.web.evidence import explain

    alerts = _surge_world(session, one_driver=True)
    a = alerts["08"]
    assert a.severity == "low"
    assert a.evidence["single_driver"]["id"] == "CMP-08-ONE"
    assert a.evidence["single_driver"]["kind"] == "prescriber"
    assert a.evidence["single_driver"]["share"] >= 0.75
    assert "un solo prescriptor" in a.summary
    en = explain(a, a.evidence, "en").headline
    assert "one driver, CMP-08-ONE" in en and "not a regional rise" in en
    assert "no un aumento regional" in explain(a, a.evidence, "es").headline


def test_regional_surge_ignores_small_noisy_regions_and_the_partial_month(session):
    """Quirks: a department with a handful of events a month swings by chance (over-dispersed
    counts); the current month is only a few days old and must not be read as a fall or rise."""
    rng = random.Random(5)
    base_products(session)
    depts = {"01": "010101", "04": "040101", "08": "080101", "13": "130101", "17": "170101"}
    for code, ubigeo in depts.items():
        est(session, f"H{code}", "hospital", ubigeo=ubigeo)
    for m in range(8):
        for code in depts:
            n = rng.randint(3, 12) if code == "17" else rng.randint(36, 44)
            for j in range(n):
                at = dt.datetime(2025, 1 + m, 1 + j % 27, 15)
                mv(session, "dispense", f"H{code}", FENT_PATCH, 1, at, patient_id=f"PSN:{code}{m}{j}", prescriber_id=f"CMP-{code}")
    for code in depts:  # September 1–2 only, but one department already busy
        for j in range(30 if code == "04" else 3):
            mv(session, "dispense", f"H{code}", FENT_PATCH, 1, dt.datetime(2025, 9, 1 + j % 2, 15),
               patient_id=f"PSN:{code}sep{j}", prescriber_id=f"CMP-{code}")
    session.commit()
    run_all(session)
    assert _by_subject(session, "regional_surge") == {}


def test_regional_surge_counts_chronic_patients_once_not_every_refill(session):
    """Quirk: 45 chronic patients join one department's panels and refill every month: a
    steady 1.4x for six months in dispensations, but only 45 independent patients (each
    test's variance times the patient design effect). A department where the same excess
    comes from a new patient every time is still flagged."""
    base_products(session)
    codes = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14"]
    for code in codes:
        est(session, f"H{code}", "hospital", ubigeo=f"{code}0101")
    for m in range(12):
        for code in codes:
            n = 100
            if m >= 6 and code == "13":
                n += 45  # the same 45 chronic patients every month
            if m >= 6 and code == "08":
                n += 60  # sixty new patients every month
            for j in range(n):
                pid = (f"PSN:chronic{j - 100}" if code == "13" and j >= 100
                       else f"PSN:{code}-{m}-{j}")
                mv(session, "dispense", f"H{code}", FENT_PATCH, 1,
                   dt.datetime(2025, 1 + m, 1 + j % 27, 15), patient_id=pid,
                   prescriber_id=f"CMP-{code}")
    session.commit()
    run_all(session)
    assert set(_by_subject(session, "regional_surge")) == {"08"}
