"""``regional_outlier`` on a hand-built country: a planted excess is flagged and named, a tiny
district with one patient on patches is not."""

from __future__ import annotations

import datetime as dt

import numpy as np

from centinela.alerts.models import Alert
from centinela.detect.engine import run_all
from centinela.reference.ubigeo import districts
from centinela.registry.models import Establishment
from tests.detect_factory import FENT_PATCH, MORPH_TAB, base_products, est, mv, prof


def _by_area(session) -> dict[str, Alert]:
    """The outlier alerts by the area they found (department, province or district). Every
    one's subject is the data contract's 2-digit department."""
    out = {}
    for a in session.query(Alert).filter_by(detector="regional_outlier"):
        assert a.subject_kind == "region" and len(a.subject_id) == 2, a.subject_id
        area = (a.evidence or {}).get("area_code", a.subject_id)
        assert area.startswith(a.subject_id)
        out[area] = a
    return out

START = dt.datetime(2025, 7, 1, 15)


def test_planted_excess_is_flagged_and_tiny_district_is_not(session):
    base_products(session)
    ds = sorted(districts().values(), key=lambda d: d.ubigeo)
    chosen = [d for d in ds[::25] if d.population >= 5000][:55]
    tiny = next(d for d in ds if 1800 <= d.population <= 2500 and d not in chosen)
    big = max((d for d in chosen if d.population < 150_000), key=lambda d: d.population)
    rng = np.random.default_rng(5)
    prof(session, "CMP-000001")
    prof(session, "CMP-PILL")
    k = 0
    for d in chosen + [tiny]:
        e = est(session, f"F-{d.ubigeo}", kind="pharmacy", ubigeo=d.ubigeo)
        n = 0 if d is tiny else rng.poisson(d.population / 8000 * np.exp(rng.normal(0, 0.2)))
        if d is big:
            n *= 5
        for _ in range(int(n)):
            k += 1
            doc = "CMP-PILL" if d is big else "CMP-000001"
            for month in range(int(rng.integers(1, 7))):
                mv(session, "dispense", e, MORPH_TAB, 60, START + dt.timedelta(days=30 * month + k % 20),
                   patient_id=f"P{k:06d}", prescriber_id=doc, days_supply=30)
    k += 1
    for month in range(12):  # one patient on 25 mcg/h patches all year
        mv(session, "dispense", f"F-{tiny.ubigeo}", FENT_PATCH, 10, START + dt.timedelta(days=30 * month),
           patient_id=f"P{k:06d}", prescriber_id="CMP-000001", days_supply=30)
    session.flush()
    report = run_all(session, only=["regional_outlier"])
    assert not report.errors
    alerts = _by_area(session)
    assert big.ubigeo in alerts, sorted(alerts)
    a = alerts[big.ubigeo]
    assert a.subject_kind == "region" and a.evidence["channel"] == "retail"
    assert a.evidence["establishments"][0]["id"] == f"F-{big.ubigeo}"
    assert a.evidence["prescribers"][0]["id"] == "CMP-PILL"
    assert a.evidence["ratio"] > 2.5
    # One pharmacy makes the whole excess: listed, but the regional evidence is one practice's,
    # so it is a low lead that names the establishment.
    assert a.evidence["single_outlet"] is True and a.severity == "low"
    assert f"F-{big.ubigeo}" in a.summary.split("un solo establecimiento")[1]
    assert any(r.startswith("DIRESA") or r.startswith("GERESA") or r.startswith("DIRIS")
               for r in a.routed_to)
    assert tiny.ubigeo not in alerts
    assert not any(s.startswith(tiny.ubigeo[:4]) and len(s) == 4 for s in alerts)
    # the tiny district tops the raw per-capita ranking, not the alerts
    assert len(alerts) <= 3


def _dense_country(session, factor: float, seed: int = 1) -> str:
    """Every district of Junín, Lima and Piura (≥ 1 000 residents) with one pharmacy and about
    one patient per 5 000 residents; one district of 80–150 thousand has ``factor`` × patients."""
    base_products(session)
    ds = sorted(districts().values(), key=lambda d: d.ubigeo)
    chosen = [d for d in ds if d.ubigeo[:2] in ("12", "15", "20") and d.population >= 1000]
    big = [d for d in chosen if 80_000 < d.population < 150_000][seed]
    rng = np.random.default_rng(seed)
    prof(session, "CMP-000001")
    k = 0
    for d in chosen:
        e = est(session, f"F-{d.ubigeo}", kind="pharmacy", ubigeo=d.ubigeo)
        n = rng.poisson(d.population / 5000 * np.exp(rng.normal(0, 0.2)) * (factor if d is big else 1))
        for _ in range(int(n)):
            k += 1
            for month in range(int(rng.integers(1, 7))):
                mv(session, "dispense", e, MORPH_TAB, 60, START + dt.timedelta(days=30 * month + k % 20),
                   patient_id=f"P{k:06d}", prescriber_id="CMP-000001", days_supply=30)
    session.flush()
    return big.ubigeo


def test_a_threefold_district_is_found_among_four_hundred(session):
    big = _dense_country(session, 3.0)
    run_all(session, only=["regional_outlier"])
    alerts = _by_area(session)
    assert list(alerts) == [big]
    assert alerts[big].evidence["level"] == "district"
    assert alerts[big].evidence["single_outlet"] is True  # one pharmacy per district here


def test_no_alert_when_no_place_stands_out(session):
    _dense_country(session, 1.0)
    run_all(session, only=["regional_outlier"])
    assert session.query(Alert).filter_by(detector="regional_outlier").count() == 0


def test_a_palliative_team_does_not_make_its_district_an_outlier(session):
    """The planted threefold district, when its extra patients are a palliative-care team's, is
    not a regional outlier (cancer and end-of-life care are left out of per-resident use)."""
    big = _dense_country(session, 1.0)
    prof(session, "CMP-PAL", specialty="palliative_care")
    for k in range(60):
        for month in range(6):
            mv(session, "dispense", f"F-{big}", MORPH_TAB, 60, START + dt.timedelta(days=30 * month + k % 20),
               patient_id=f"PAL{k:04d}", prescriber_id="CMP-PAL", days_supply=30)
    session.flush()
    run_all(session, only=["regional_outlier"])
    assert session.query(Alert).filter_by(detector="regional_outlier").count() == 0


def test_a_place_prescribed_by_one_or_two_doctors_is_a_low_lead(session):
    """Quirk: a district whose excess is two outlets filling one or two doctors' prescriptions
    (patients cluster within prescribers as within outlets): a low lead naming the doctors. The
    same excess spread over six doctors and four outlets is a regional finding; over six
    doctors but only two outlets it is a low lead naming the outlets (two practices are two
    independent units, however many patients)."""
    base_products(session)
    ds = sorted(districts().values(), key=lambda d: d.ubigeo)
    chosen = [d for d in ds[::25] if d.population >= 5000][:55]
    mid = sorted((d for d in chosen if d.population < 150_000), key=lambda d: -d.population)
    two, many = mid[0], next(d for d in mid[1:] if d.ubigeo[:2] != mid[0].ubigeo[:2]
                             and not d.ubigeo.endswith("0101"))
    rng = np.random.default_rng(7)
    prof(session, "CMP-000001")
    k = 0
    for d in chosen:
        outlets = [est(session, f"F-{d.ubigeo}-{j}", kind="pharmacy", ubigeo=d.ubigeo)
                   for j in range(4 if d is many else 2)]
        n = rng.poisson(d.population / 8000 * np.exp(rng.normal(0, 0.2)))
        if d in (two, many):
            n *= 5
        for i in range(int(n)):
            k += 1
            doc = ("CMP-000001" if d not in (two, many) else
                   f"CMP-TWO{i % 2}" if d is two else f"CMP-MANY{i % 6}")
            for month in range(int(rng.integers(1, 7))):
                mv(session, "dispense", outlets[i % len(outlets)], MORPH_TAB, 60,
                   START + dt.timedelta(days=30 * month + k % 20), patient_id=f"P{k:06d}",
                   prescriber_id=doc, days_supply=30)
    session.flush()
    run_all(session, only=["regional_outlier"])
    alerts = _by_area(session)
    assert two.ubigeo in alerts and many.ubigeo in alerts, sorted(alerts)
    a, b = alerts[two.ubigeo], alerts[many.ubigeo]
    assert a.severity == "low" and a.evidence["effective_prescribers"] <= 2
    assert "CMP-TWO" in a.summary.split("uno o dos prescriptores")[1]
    assert b.severity != "low" and b.evidence["effective_prescribers"] > 4.5
    assert b.evidence["effective_establishments"] > 3.5


def test_a_place_served_by_two_outlets_is_a_low_lead(session):
    """The same excess over six doctors, but in a district whose use is two pharmacies: two
    practices are two independent units however many patients and doctors, so it is a low
    lead naming the outlets (``suspicious_order`` and ``prescriber_volume`` judge them)."""
    base_products(session)
    ds = sorted(districts().values(), key=lambda d: d.ubigeo)
    chosen = [d for d in ds[::25] if d.population >= 5000][:55]
    mid = sorted((d for d in chosen if d.population < 150_000), key=lambda d: -d.population)
    pair = next(d for d in mid if not d.ubigeo.endswith("0101"))
    rng = np.random.default_rng(7)
    prof(session, "CMP-000001")
    k = 0
    for d in chosen:
        outlets = [est(session, f"F-{d.ubigeo}-{j}", kind="pharmacy", ubigeo=d.ubigeo)
                   for j in range(2 if d is pair else 4)]
        n = rng.poisson(d.population / 8000 * np.exp(rng.normal(0, 0.2))) * (5 if d is pair else 1)
        for i in range(int(n)):
            k += 1
            doc = f"CMP-MANY{i % 6}" if d is pair else "CMP-000001"
            for month in range(int(rng.integers(1, 7))):
                mv(session, "dispense", outlets[i % len(outlets)], MORPH_TAB, 60,
                   START + dt.timedelta(days=30 * month + k % 20), patient_id=f"P{k:06d}",
                   prescriber_id=doc, days_supply=30)
    session.flush()
    run_all(session, only=["regional_outlier"])
    alerts = _by_area(session)
    assert pair.ubigeo in alerts, sorted(alerts)
    c = alerts[pair.ubigeo]
    assert c.evidence["effective_prescribers"] > 4.5
    assert c.severity == "low" and c.evidence["effective_establishments"] <= 2
    assert f"F-{pair.ubigeo}-0" in c.summary.split("uno o dos establecimientos")[1]


def _hospital_country(session, lima_names: list[str], factor: float) -> dict[str, str]:
    """One hospital in the most populous district of each department, its ward's patients
    about one per 20 000 residents; in Lima, beside the ordinary hospital, the hospitals named
    ``lima_names`` each treat ``factor`` × Lima's share of patients. Returns department → its
    ordinary hospital's id."""
    base_products(session)
    rng = np.random.default_rng(4)
    prof(session, "CEP-1", role="nurse")
    top: dict[str, object] = {}
    for d in districts().values():
        if d.population > getattr(top.get(d.ubigeo[:2]), "population", 0):
            top[d.ubigeo[:2]] = d
    ids: dict[str, str] = {}
    k = 0

    def ward(e: str, n: int) -> None:
        nonlocal k
        for _ in range(n):
            k += 1
            for dose in range(int(rng.integers(2, 6))):
                mv(session, "administer", e, FENT_PATCH, 1, START + dt.timedelta(days=(k * 7 + dose) % 330),
                   patient_id=f"H{k:06d}", professional_id="CEP-1")

    def hospital(eid: str, name: str, ubigeo: str) -> str:
        session.add(Establishment(establishment_id=eid, name=name, kind="hospital",
                                  sector="public", ubigeo=ubigeo, department=ubigeo[:2],
                                  authorized_controlled=True))
        session.flush()
        return eid

    for dept, d in sorted(top.items()):
        ids[dept] = hospital(f"H-{dept}", f"Hospital Regional {d.district}", d.ubigeo)
        lam = d.population / 20000 * np.exp(rng.normal(0, 0.15))
        ward(ids[dept], int(rng.poisson(lam)))
        if dept == "15":
            for j, name in enumerate(lima_names):
                ward(hospital(f"H-15-{j}", name, d.ubigeo), int(rng.poisson(lam * factor)))
    session.flush()
    return ids


def test_national_hospitals_do_not_make_the_capital_an_outlier(session):
    """Lima holds the national hospitals and institutes, which take patients referred from the
    whole country: their use is no Lima resident's. Four of them with four times Lima's own
    hospital use each do not make the department an outlier."""
    _hospital_country(session, ["Hospital Nacional Dos de Mayo", "Instituto Nacional de Enfermedades "
                                "Neoplásicas", "Hospital Militar Central", "Hospital Nacional PNP "
                                "Luis N. Sáenz"], 4.0)
    run_all(session, only=["regional_outlier"])
    assert not [code for code in _by_area(session) if code.startswith("15")]


def test_ordinary_hospitals_with_the_same_excess_still_make_an_outlier(session):
    """The same excess in four ordinary (non-national) hospitals of Lima is still flagged."""
    _hospital_country(session, ["Clinica San Borja", "Hospital de Vitarte", "Clinica Ricardo Palma",
                                "Hospital Santa Rosa"], 4.0)
    run_all(session, only=["regional_outlier"])
    flagged = [a for a in session.query(Alert).filter_by(detector="regional_outlier")
               if a.subject_id.startswith("15")]
    assert flagged and flagged[0].evidence["channel"] == "hospital"
