"""EWS detection: EARS/EWMA/CUSUM, the space-time permutation scan, and alerts end to end."""

import datetime as dt

import numpy as np
from sqlalchemy import select

from centinela.alerts.models import Alert
from centinela.ews import detectors as ews_detectors
from centinela.ews import stats
from centinela.ews.detect import DetectConfig
from centinela.ews.scan import ScanParams, scan
from centinela.ews.signals import record_signal
from centinela.ews.simulate import load_series_as_signals, simulate_cases, simulate_series
from centinela.reference import ubigeo as ubigeo_ref


def test_methods_flag_an_injected_outbreak_and_not_a_flat_series():
    rng = np.random.default_rng(1)
    x = rng.poisson(2, 120).astype(float)
    x[100:107] += [3, 5, 8, 8, 6, 4, 3]
    res = stats.run_all(x)
    for m in stats.METHODS:
        hits = np.where(res[m + "_alarm"])[0]
        assert any(100 <= t < 107 for t in hits), m
    flat = np.full(120, 2.0)
    res = stats.run_all(flat)
    assert not any(res[m + "_alarm"].any() for m in stats.METHODS)


def test_ears_c1_by_hand():
    x = np.array([1, 2, 1, 2, 1, 2, 1, 9], dtype=float)
    res = stats.ears(x)
    mean, sd = np.mean(x[:7]), np.std(x[:7], ddof=1)
    assert res["ears_c1"][7] == np.float64((9 - mean) / max(sd, np.sqrt(mean), 0.5))
    assert res["ears_c1_alarm"][7] and not res["ears_c1_alarm"][:7].any()


def test_simulated_series_are_reproducible():
    a, _, oa = simulate_series(5, 120, seed=3)
    b, _, ob = simulate_series(5, 120, seed=3)
    assert (a == b).all() and oa == ob


def test_space_time_scan_finds_an_injected_cluster_and_not_noise():
    ds = [d for d in ubigeo_ref.districts().values() if d.ubigeo.startswith("15")][:120]
    lat = np.array([d.latitude for d in ds])
    lon = np.array([d.longitude for d in ds])
    w = np.array([max(d.population, 1) for d in ds], dtype=float)
    params = ScanParams(n_sims=99, max_radius_km=30)
    loc, day = simulate_cases(lat, lon, w, 60, 4.0, seed=5, cluster=(10, 3, 4), cluster_extra=25)
    found = scan(loc, day, lat, lon, 60, params)
    assert found and found[0].p_value <= 0.05
    assert 10 in found[0].locations or found[0].centre in set(np.argsort(
        (lat - lat[10]) ** 2 + (lon - lon[10]) ** 2)[:4])
    assert found[0].window_days <= 7 and found[0].observed > found[0].expected
    loc, day = simulate_cases(lat, lon, w, 60, 4.0, seed=6)
    assert scan(loc, day, lat, lon, 60, params) == []


def test_detection_end_to_end_raises_alerts(session, now):
    start = now - dt.timedelta(days=119)
    counts, _, _ = simulate_series(1, 120, seed=2, outbreak_share=0.0, base_range=(1.0, 1.0))
    counts[0, -4:] += [4, 6, 8, 9]
    load_series_as_signals(session, counts[0], start, "13", "130101", "fentanyl",
                           "PJMPHNIQZUBGLI-UHFFFAOYSA-N")
    # a nitazene first seen 3 days ago in Lima, then in Cusco
    record_signal(session, "lab", "LAB-1", now - dt.timedelta(days=3), ubigeo="150101",
                  substance="isotonitazene", inchikey="OIOQREYBGDAYGT-UHFFFAOYSA-N",
                  payload={"category": "nitazene"})
    record_signal(session, "lab", "LAB-2", now - dt.timedelta(days=1), ubigeo="080101",
                  substance="isotonitazene", inchikey="OIOQREYBGDAYGT-UHFFFAOYSA-N",
                  payload={"category": "nitazene"})
    record_signal(session, "seizure", "SZ-9", now - dt.timedelta(days=2), ubigeo="040101",
                  substance="fentanyl", payload={"product_code": "FEN-AMP", "lot": "L77"})
    cfg = DetectConfig(scan=ScanParams(n_sims=99))
    counts_run = ews_detectors.run(session, now, cfg)
    alerts = {(a.detector, a.subject_kind, a.subject_id): a for a in session.scalars(select(Alert))}
    assert ("ews_first_national", "region", "15") in alerts
    assert ("ews_first_department", "region", "08") in alerts
    first = alerts[("ews_first_national", "region", "15")]
    assert first.severity in ("high", "critical") and "isotonitaceno" in first.summary  # Spanish page, Spanish name
    assert ("ews_aberration", "region", "13") in alerts
    ab = alerts[("ews_aberration", "region", "13")]
    assert "Aumento inusual" in ab.summary and ab.evidence["methods"]
    assert ("ews_seized_registry_product", "lot", "L77") in alerts
    assert counts_run["ews_first"]["created"] >= 2
    # running again at the same now updates, never duplicates
    n = session.query(Alert).count()
    again = ews_detectors.run(session, now, cfg)
    assert session.query(Alert).count() == n
    assert again["ews_first"]["created"] == 0


def test_cluster_alert_from_signals(session, now):
    codes = ["150101", "150115", "150113", "150116", "150120", "150122", "150131", "150132",
             "150140", "150141", "040101", "130101", "200101", "080101"]
    rng = np.random.default_rng(4)
    n = 0
    for t in range(60):
        for _ in range(rng.poisson(1.5)):
            record_signal(session, "overdose", f"B{n}", now - dt.timedelta(days=59 - t, hours=3),
                          ubigeo=codes[rng.integers(len(codes))])
            n += 1
    for i in range(14):  # a burst in Lima Cercado and neighbours in the last 3 days
        record_signal(session, "overdose", f"C{i}", now - dt.timedelta(days=i % 3, hours=2),
                      ubigeo=["150101", "150113", "150115"][i % 3])
    ews_detectors.run(session, now, DetectConfig(scan=ScanParams(n_sims=99)), only=("ews_cluster",))
    cl = session.scalar(select(Alert).where(Alert.detector == "ews_cluster_overdose"))
    assert cl is not None and cl.subject_id == "15"
    assert cl.evidence["p_value"] <= 0.05 and "150101" in cl.evidence["ubigeos"]
    assert "Conglomerado espacio-temporal" in cl.summary


def test_a_rise_made_only_of_citizen_tips_is_medium_and_says_it_is_unconfirmed(session, now):
    """Three tips about fentanyl in one department with no history alarm every method; with no
    confirmed signal among them the alert is a "check this" (medium), not critical. A
    laboratory identification among them lifts the cap."""
    for i in range(3):
        record_signal(session, "citizen", f"TIP-{i}", now - dt.timedelta(hours=2 + i),
                      ubigeo="150101", substance="fentanyl")
    cfg = DetectConfig(scan=ScanParams(n_sims=99))
    ews_detectors.run(session, now, cfg, only=("ews_aberration",))
    ab = session.scalar(select(Alert).where(Alert.detector == "ews_aberration"))
    assert ab is not None and ab.score <= 55 and ab.severity in ("low", "medium")
    assert ab.evidence["unconfirmed_only"] is True and ab.evidence["recent_sources"] == {"citizen": 3}
    assert "sin confirmar" in ab.summary
    from centinela.web.evidence import headline
    assert "unconfirmed" in headline(ab, "en")
    record_signal(session, "lab", "LAB-77", now - dt.timedelta(hours=1), ubigeo="150101",
                  substance="fentanyl", inchikey="PJMPHNIQZUBGLI-UHFFFAOYSA-N",
                  payload={"category": "fentanyl", "identified_by": "structure"})
    ews_detectors.run(session, now, cfg, only=("ews_aberration",))
    session.refresh(ab)
    assert ab.evidence["confirmed_recent"] == 1 and ab.score > 55


def test_substances_first_seen_in_one_department_on_one_day_are_separate_alerts(session, now):
    """Three new substances confirmed in Lima the same day: three alerts, the carfentanil one
    critical — none folded into (or overwritten by) another's; a re-run changes nothing."""
    day = now - dt.timedelta(days=2)
    for sid, name, key in (
            ("LAB-C", "carfentanil", "YDSDEBIZUNNPOB-UHFFFAOYSA-N"),
            ("LAB-I", "isotonitazene", "OIOQREYBGDAYGT-UHFFFAOYSA-N"),
            ("LAB-P", "cyclopropylfentanyl", "OIQSKDSKROTEMN-UHFFFAOYSA-N")):
        record_signal(session, "lab", sid, day, ubigeo="150101", substance=name, inchikey=key)
    cfg = DetectConfig(scan=ScanParams(n_sims=19))
    first = ews_detectors.run(session, now, cfg, only=("ews_first",))
    assert first["ews_first"]["created"] == 3
    alerts = session.scalars(select(Alert).where(Alert.detector == "ews_first_national")).all()
    assert sorted(a.evidence["substance"] for a in alerts) == [
        "carfentanil", "cyclopropylfentanyl", "isotonitazene"]
    assert {a.evidence["substance"]: a.severity for a in alerts}["carfentanil"] == "critical"
    again = ews_detectors.run(session, now, cfg, only=("ews_first",))
    assert again["ews_first"]["created"] == 0
    assert len(session.scalars(select(Alert).where(
        Alert.detector == "ews_first_national")).all()) == 3


def test_a_first_cocaine_seizure_is_not_news_for_the_opioid_early_warning(session, now):
    day = now - dt.timedelta(days=2)
    record_signal(session, "lab", "LAB-COC", day, ubigeo="150101", substance="cocaine",
                  inchikey="ZPUCINDJVBIVPJ-LJISPDSOSA-N", payload={"category": "non_opioid"})
    record_signal(session, "lab", "LAB-XYL", day, ubigeo="150101", substance="xylazine",
                  inchikey="BPICBUSOMSTKRF-UHFFFAOYSA-N", payload={"category": "non_opioid"})
    ews_detectors.run(session, now, DetectConfig(scan=ScanParams(n_sims=19)), only=("ews_first",))
    found = {a.evidence["substance"] for a in session.scalars(select(Alert))}
    assert found == {"xylazine"}  # an adulterant of the opioid supply; cocaine is not news
