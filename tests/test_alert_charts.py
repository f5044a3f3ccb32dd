"""Alert pages show what each alert claims: a chart of the trigger quantity with units, the
threshold or peers it was compared with, and evidence in the reader's language (no raw keys,
no English codes on the Spanish page). Built from the generator's planted scenarios and the
real detectors, one assertion set per detector family."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from centinela.config import get_settings
from centinela.generate import generate
from tests.web_support import PASSWORD, fast_argon2, login  # noqa: F401

FAMILIES = {  # family → detectors whose alerts the generated year yields
    "orders": ["suspicious_order"],
    "prescriber": ["prescriber_volume"],
    "patient": ["high_mme", "dispense_high_mme", "multiple_providers",
                "overlapping_prescriptions"],
    "loss": ["loss_report", "repeated_loss", "waste_share", "waste_unwitnessed"],
    "custody": ["serial_reuse", "unauthorized_receiver", "transfer_not_received",
                "seizure_trace"],
    "regional": ["regional_surge", "regional_outlier"],
    "records": ["uncertified_handler"],
}
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


class _Visible(HTMLParser):
    """Collect the text a reader sees (no attributes, scripts or styles)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Visible()
    p.feed(html)
    return " ".join(p.parts)


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("alertcharts")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CENTINELA_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
        get_settings.cache_clear()
        generate(out, seed=1, scale=0.05)
    get_settings.cache_clear()
    return out


@pytest.fixture
def detected(engine, session, year) -> dict[str, str]:
    """Import the generated year, run every detector; return detector → strongest alert id."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.models import Alert
    from centinela.detect.engine import run_all
    from centinela.ingest.service import import_directory
    from centinela.web.views.common import clear_cache

    clear_cache()
    import_directory(engine, year, channel="cli", realtime=False)
    run_all(engine)
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    out: dict[str, str] = {}
    for a in session.scalars(select(Alert).order_by(Alert.score.desc())):
        out.setdefault(a.detector, a.alert_id)
    return out


@pytest.fixture
def app(engine):
    from centinela.web.app import create_app

    return create_app(engine)


def _check_page(html: str, detector: str, lang: str) -> list[str]:
    """Return what is wrong with one alert page (empty when it shows its claim)."""
    from centinela.detect.registry import DETECTORS

    problems = []
    if "alert-chart" not in html:
        problems.append("no chart")
    svgs = re.findall(r'<svg class="chart alert-chart chart-wide".*?</svg>', html, re.S)
    if not svgs:
        problems.append("no wide svg")
    for svg in svgs:
        if 'data-unit="' not in svg or 'class="y-unit"' not in svg:
            problems.append("chart without unit")
        if not re.search(r'class="(bar[ "]|line|pt|bar subject)', svg):
            problems.append("chart without the trigger quantity")
    if not re.search(r'class="(ref|band|bar expected|bar peer|marker|window)"', "".join(svgs)):
        problems.append("no threshold, peers' band, window or comparison bar")
    text = visible_text(html)
    snake = sorted(set(SNAKE.findall(text)))
    if snake:
        problems.append(f"raw keys or codes in the page: {snake}")
    codes = set(DETECTORS) | {"ews_aberration", "citizen_report"}
    leaked = [c for c in codes if re.search(rf"\b{c}\b", text)]
    if leaked:
        problems.append(f"detector codes in the page: {leaked}")
    if lang == "es":
        english = [w for w in ("Observed", "Expected", "received", "peers", "threshold")
                   if re.search(rf"\b{w}\b", text)]
        if english:
            problems.append(f"English on the Spanish page: {english}")
    return problems


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_detector_family_charts_its_claim(app, detected, lang):
    client = login(app, "analista")
    problems = {}
    missing = []
    for family, detectors in FAMILIES.items():
        for detector in detectors:
            alert_id = detected.get(detector)
            if alert_id is None:
                missing.append(detector)
                continue
            r = client.get(f"/alerts/{alert_id}?lang={lang}")
            assert r.status_code == 200, (detector, r.text[:300])
            bad = _check_page(r.text, detector, lang)
            if bad:
                problems[f"{family}/{detector}"] = bad
    assert not missing, f"the generated year raised no alert of {missing}"
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_suspicious_order_chart_shows_receipts_in_mg_with_the_12_month_mean(app, detected):
    client = login(app, "analista")
    page = client.get(f"/alerts/{detected['suspicious_order']}").text
    assert "Recepciones de fentanilo por mes" in page
    assert 'data-unit="mg de fentanilo por mes"' in page
    assert "Promedio de 12 meses previos" in page and 'class="ref"' in page
    assert "veces su promedio de 12 meses" in page  # the plain sentence
    api = client.get(f"/api/v1/alerts/{detected['suspicious_order']}?lang=en").json()
    orders = next(c for c in api["charts"] if c["key"] == "orders")
    assert orders["series"][0]["name"].startswith("Received")
    assert orders["refs"][0]["value"] > 0 and orders["window"]
    assert "times its 12-month average" in api["explained"]["headline"]


def test_region_chart_marks_the_running_month_partial_instead_of_a_crash(app, detected,
                                                                           session):
    from centinela.ledger.records import Movement

    client = login(app, "analista")
    api = client.get(f"/api/v1/alerts/{detected['regional_surge']}").json()
    region = next(c for c in api["charts"] if c["key"] == "region")
    points = region["series"][0]["points"]
    # A month the ledger does not cover to its end is partial (hatched), never a "crash".
    last = session.scalar(select(Movement.occurred_at).order_by(Movement.occurred_at.desc()))
    complete = (last + dt.timedelta(hours=1)).month != last.month
    assert points[-1]["key"] == last.strftime("%Y-%m")
    assert points[-1]["partial"] is (not complete)
    # Months before the ledger's first movement are left out (no false growth), and only the
    # first month with data may be partial at the start.
    first = next(i for i, p in enumerate(points) if p["value"] is not None)
    assert all(p["value"] is None for p in points[:first])
    assert not any(p["partial"] for p in points[first + 1:-1])

    # A ledger that stops mid-month: the page hatches that month and says why.
    from centinela.web.views.common import clear_cache

    session.query(Movement).filter(Movement.occurred_at >= last.replace(day=15)).delete()
    session.commit()
    clear_cache()
    api = client.get(f"/api/v1/alerts/{detected['regional_surge']}").json()
    points = next(c for c in api["charts"] if c["key"] == "region")["series"][0]["points"]
    assert points[-1]["partial"] is True
    page = client.get(f"/alerts/{detected['regional_surge']}").text
    assert 'class="bar partial"' in page and "mes o día incompleto" in page
    assert region["unit_label"] == "Dispensaciones por mes"


def test_patient_chart_draws_the_90_mme_threshold(app, detected):
    client = login(app, "analista")
    api = client.get(f"/api/v1/alerts/{detected['high_mme']}").json()
    daily = next(c for c in api["charts"] if c["key"] == "patient-daily")
    assert [r["value"] for r in daily["refs"]] == [50, 90]
    assert max(p["value"] for p in daily["series"][0]["points"]) >= 90
    assert daily["unit_label"] == "MME por día"


def test_prescriber_chart_compares_with_the_peers_band(app, detected):
    client = login(app, "analista")
    api = client.get(f"/api/v1/alerts/{detected['prescriber_volume']}").json()
    peers = next(c for c in api["charts"] if c["key"] == "prescriber-peers")
    assert peers["band"]["low"] <= peers["band"]["high"]
    assert peers["bars"][0]["value"] > peers["bars"][1]["value"]
    monthly = next(c for c in api["charts"] if c["key"] == "prescriber-monthly")
    assert len(monthly["series"]) == 2  # the subject and the peers' median, both drawn
    # The prescriber's profile names the specialty and role in Spanish, not as codes.
    profile = client.get(f"/profiles/professional/{api['alert']['subject_id']}").text
    assert not SNAKE.findall(visible_text(profile).split("Movimientos")[0])
    assert "prescriptor" in visible_text(profile)


def test_format_helpers_follow_the_locale():
    from centinela.web.fmt import format_compact, format_date, format_month, format_number

    assert format_number(1333.5, "es") == "1\u00a0333,5"  # Peru (SI): space groups, decimal comma
    assert format_compact(1_374_848, "es") == "1,4\u00a0M"
    assert format_compact(2_500, "en") == "2.5\u00a0K"
    assert format_month("2026-08", "es", "long") == "agosto de 2026"
    assert format_date("2026-08-05", "en") == "Aug 5, 2026"
    from centinela.web.evidence import _fmt_value

    assert _fmt_value("p_value", 1e-9, "", "es") == "< 0,0001"  # the page's decimal comma
    assert _fmt_value("p_value", 1e-9, "", "en") == "< 0.0001"


def psychotropics_world(session) -> dict[str, str]:
    """Opioid + benzodiazepine findings on hand-built books (as the detector tests); return
    detector → alert id."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.models import Alert
    from centinela.detect.engine import run_all
    from centinela.registry.models import Product
    from tests.detect_factory import MORPH_TAB, base_products, days, est, mv, prof

    now = PSYCHO_NOW
    base_products(session)
    session.add(Product(product_code="CLO-2", name="Clonazepam 2 mg tableta",
                        substance="clonazepam", dosage_form="tablet", strength_mg_per_unit=2))
    for e in ("F1", "F2"):
        est(session, e)
    start = now - dt.timedelta(days=120)
    for k in range(3):  # opioid from CMP-1, benzodiazepine from CMP-2, overlapping for months
        mv(session, "dispense", "F1", MORPH_TAB, 60, days(start, 30 * k), patient_id="PSN:x",
           prescriber_id="CMP-1", prescription_id=f"X{k}", days_supply=30)
        mv(session, "dispense", "F2", "CLO-2", 30, days(start, 30 * k + 5), patient_id="PSN:x",
           prescriber_id="CMP-2", prescription_id=f"XB{k}", days_supply=30)

    def practice(pid, n_both):
        prof(session, pid, specialty="general_medicine")
        for j in range(15):
            psn = f"PSN:{pid}-{j}"
            mv(session, "dispense", "F1", MORPH_TAB, 30, days(start, j), patient_id=psn,
               prescriber_id=pid, prescription_id=f"{pid}-{j}", days_supply=30)
            if j < n_both:
                mv(session, "dispense", "F1", "CLO-2", 15, days(start, j + 2), patient_id=psn,
                   prescriber_id=pid, prescription_id=f"{pid}-{j}B", days_supply=15)

    for i in range(8):
        practice(f"CMP-G{i}", 1)
    practice("CMP-OUT", 9)
    session.commit()
    run_all(session, now=now, only=["opioid_benzodiazepine_overlap", "coprescribing_prescriber"])
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    alerts = {a.detector: a.alert_id for a in session.scalars(select(Alert))}
    return alerts


PSYCHO_NOW = dt.datetime(2025, 12, 31, 12)


def test_psychotropics_family_charts_both_drugs_and_the_peer_rate(app, session):
    """Opioid + benzodiazepine: the patient's daily MME and diazepam mg; the prescriber's share
    of co-prescribed patients against the specialty's rate."""
    alerts = psychotropics_world(session)
    assert set(alerts) == {"opioid_benzodiazepine_overlap", "coprescribing_prescriber"}
    now = PSYCHO_NOW
    app.state.clock = lambda: now
    client = login(app, "analista")
    for detector, alert_id in alerts.items():
        page = client.get(f"/alerts/{alert_id}").text
        assert not _check_page(page, detector, "es"), (detector, _check_page(page, detector, "es"))
    api = client.get(f"/api/v1/alerts/{alerts['opioid_benzodiazepine_overlap']}").json()
    keys = [c["key"] for c in api["charts"]]
    assert keys == ["patient-daily", "patient-benzo"]
    benzo = api["charts"][1]
    assert max(p["value"] for p in benzo["series"][0]["points"]) > 0
    assert "diazepam" in benzo["unit_label"]
    api = client.get(f"/api/v1/alerts/{alerts['coprescribing_prescriber']}").json()
    rate = api["charts"][0]
    assert rate["key"] == "coprescribing"
    assert rate["bars"][0]["value"] == 60.0 and rate["bars"][1]["value"] < 10
    assert "60\u00a0%" in api["explained"]["headline"]


def test_purchases_outgrowing_use_and_inventory_shortfall_pages(app, session):
    """Orders and inventory on hand-built books (as tests/test_detect_orders.py): the ratio of
    received to used mg against peers; the units missing at the count."""
    import random

    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.models import Alert
    from centinela.detect.engine import run_all
    from tests.detect_factory import FENT_AMP, MORPH_TAB, base_products, days, est, mv

    t0 = dt.datetime(2025, 1, 6, 15)
    rng = random.Random(5)
    base_products(session)
    est(session, "D1", "distributor")
    for e in ("GAP", *(f"P{i}" for i in range(10))):
        est(session, e)
    for m in range(9):
        for i in range(10):
            q = rng.randint(95, 105)
            mv(session, "receipt", f"P{i}", MORPH_TAB, q, days(t0, 30 * m), counterparty_id="D1")
            mv(session, "dispense", f"P{i}", MORPH_TAB, q + rng.randint(-3, 3),
               days(t0, 30 * m + 10), patient_id=f"PSN:P{i}-{m}", prescriber_id="CMP-1",
               prescription_id=f"R{i}-{m}", days_supply=30)
        mv(session, "receipt", "GAP", MORPH_TAB, 250, days(t0, 30 * m), counterparty_id="D1")
        mv(session, "dispense", "GAP", MORPH_TAB, 100, days(t0, 30 * m + 10),
           patient_id=f"PSN:GAP-{m}", prescriber_id="CMP-1", prescription_id=f"G{m}",
           days_supply=30)
    est(session, "SHORT", "hospital")
    stock = 100.0
    mv(session, "count", "SHORT", FENT_AMP, 100, t0)
    for m in range(1, 5):
        mv(session, "receipt", "SHORT", FENT_AMP, 50, days(t0, 30 * m - 20), counterparty_id="D1")
        mv(session, "administer", "SHORT", FENT_AMP, 50, days(t0, 30 * m - 10),
           patient_id=f"PSN:S{m}")
        stock -= 5
        mv(session, "count", "SHORT", FENT_AMP, stock, days(t0, 30 * m))
    session.commit()
    run_all(session, only=["purchases_outgrow_use", "inventory_discrepancy"])
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    alerts = {a.detector: a.alert_id for a in session.scalars(select(Alert))}
    assert set(alerts) == {"purchases_outgrow_use", "inventory_discrepancy"}
    app.state.clock = lambda: dt.datetime(2025, 12, 31, 12)
    client = login(app, "analista")
    for detector, alert_id in alerts.items():
        page = client.get(f"/alerts/{alert_id}").text
        assert not _check_page(page, detector, "es"), (detector, _check_page(page, detector, "es"))
    api = client.get(f"/api/v1/alerts/{alerts['purchases_outgrow_use']}").json()
    assert [c["key"] for c in api["charts"]] == ["orders", "orders-ratio"]
    ratio = api["charts"][1]
    assert 2.4 < ratio["bars"][0]["value"] < 2.6 and ratio["band"]["high"] < 1.2
    api = client.get(f"/api/v1/alerts/{alerts['inventory_discrepancy']}").json()
    gap = api["charts"][0]
    assert gap["key"] == "inventory-gap" and gap["bars"][0]["value"] == 20.0


def test_records_family_form_misuse_and_balance_gap_pages(app, engine, session, data_dir):
    """Official records (as tests/test_intake_records.py): misused prescription forms and a
    balance that loses units; both pages state the claim and chart it without raw codes."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.models import Alert
    from centinela.detect.engine import run_all
    from centinela.ingest.service import import_directory
    from tests.test_intake_records import (
        BAL_FIELDS,
        FORM_FIELDS,
        _balance,
        _dispense,
        _registry,
        write_csv,
    )

    _registry(data_dir)
    write_csv(data_dir, "prescription_forms", [
        {"series": "RE-", "first_number": "100", "last_number": "199",
         "prescriber_id": "CMP-012345", "issued_on": "2025-01-10", "issuer": "CMP"},
        {"series": "RE-", "first_number": "200", "last_number": "299",
         "prescriber_id": "CMP-054321", "issued_on": "2025-01-10", "issuer": "CMP"},
    ], fields=FORM_FIELDS)
    write_csv(data_dir, "balances", [
        _balance("EST-FAR", "EE-00002", "2025-01-01", "2025-01-31", "10", "20", "15", "15"),
        _balance("EST-FAR", "EE-00002", "2025-02-01", "2025-02-28", "15", "0", "5", "4"),
    ], fields=BAL_FIELDS)
    write_csv(data_dir, "movements", [
        _dispense("D4", "02-03", "DNI:45678912", "RE-000102", est="EST-HOS"),
        _dispense("D5", "03-03", "DNI:87654321", "RE-000102", est="EST-HOS"),
        _dispense("D6", "02-05", "DNI:45678912", "RE-000250", est="EST-HOS"),
        _dispense("D7", "02-06", "DNI:45678912", "RE-000900", est="EST-HOS"),
    ])
    import_directory(engine, data_dir, realtime=False)
    now = dt.datetime(2025, 6, 30, 12)
    run_all(session, now=now, only=["prescription_form_misuse", "balance_gap"])
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    alerts = {a.detector: a.alert_id for a in session.scalars(select(Alert))}
    assert set(alerts) == {"prescription_form_misuse", "balance_gap"}
    app.state.clock = lambda: now
    client = login(app, "analista")
    for detector, alert_id in alerts.items():
        page = client.get(f"/alerts/{alert_id}").text
        assert not _check_page(page, detector, "es"), (detector, _check_page(page, detector, "es"))
    page = client.get(f"/alerts/{alerts['prescription_form_misuse']}").text
    assert "reutilizadas" in page and "con número no emitido" in page
    api = client.get(f"/api/v1/alerts/{alerts['balance_gap']}?lang=en").json()
    assert api["charts"][0]["key"] == "balance" and api["charts"][0]["bars"][0]["value"] == 6
    assert "6 units unexplained" in api["explained"]["headline"]


def test_inbox_and_its_export_read_headlines_in_the_interface_language(app, detected):
    """The stored summary is Spanish; the English inbox rebuilds each headline in English."""
    client = login(app, "analista")
    es = client.get("/api/v1/alerts?detector=suspicious_order").json()
    en = client.get("/api/v1/alerts?detector=suspicious_order&lang=en").json()
    assert es["rows"] and len(es["rows"]) == len(en["rows"])
    assert any("veces su promedio de 12 meses" in r["summary"] for r in es["rows"])
    assert any("times its 12-month average" in r["summary"] for r in en["rows"])
    assert not any("veces su promedio" in r["summary"] for r in en["rows"])
    exported = client.get("/alerts.json?detector=suspicious_order&lang=en").json()
    rows = exported["rows"] if isinstance(exported, dict) else exported
    assert any("times its 12-month average" in r["summary"] for r in rows)


def test_alert_lists_on_profile_and_ews_pages_read_english_in_english(app, detected, session):
    """Every list of alerts (not only the inbox) rebuilds stored Spanish summaries in English."""
    from centinela.alerts.models import Alert

    alert = session.query(Alert).filter_by(alert_id=detected["suspicious_order"]).one()
    client = login(app, "analista")
    page = client.get(f"/profiles/establishment/{alert.subject_id}?lang=en").text
    assert "times its 12-month average" in page
    assert "veces su promedio de 12 meses" not in page
    es = client.get(f"/profiles/establishment/{alert.subject_id}?lang=es").text
    assert "veces su promedio de 12 meses" in es


def test_every_evidence_key_of_a_detected_year_has_a_label_in_both_languages(session, detected):
    """An evidence key without an ``evidence.`` label is shown as its own words ("Below peer
    month"), English on the Spanish page; technical keys are in ``HIDDEN``."""
    from centinela.alerts.models import Alert
    from centinela.web.evidence import HIDDEN
    from centinela.web.i18n import catalogs

    cats = catalogs()
    keys = {k for a in session.scalars(select(Alert)) for k in (a.evidence or {})} - HIDDEN
    assert len(keys) > 30
    assert sorted(k for k in keys if f"evidence.{k}" not in cats["es"]
                  or f"evidence.{k}" not in cats["en"]) == []


def test_one_far_future_movement_does_not_stretch_the_charts_span(session):
    """A record dated a year after the rest (a clock or a date format gone wrong) stays in the
    ledger but not in the charts' span; a ledger that simply ends later keeps its end."""
    import datetime as dt

    from centinela.web.alertcharts import _data_span
    from centinela.web.views.common import clear_cache
    from tests.detect_factory import FENT_AMP, base_products, est, mv

    base_products(session)
    est(session, "F1")
    start = dt.datetime(2025, 1, 10, 10)
    for d in range(0, 330, 2):
        mv(session, "dispense", "F1", FENT_AMP, 1, start + dt.timedelta(days=d),
           patient_id="PSN:x", prescriber_id="CMP-1")
    last = start + dt.timedelta(days=328)
    mv(session, "dispense", "F1", FENT_AMP, 1000, dt.datetime(2026, 12, 16, 11),
       patient_id="PSN:y", prescriber_id="CMP-1")
    session.commit()
    clear_cache()
    assert _data_span(session)[1] == last
    for d in range(0, 90, 2):  # the ledger really goes on: the span follows it
        mv(session, "dispense", "F1", FENT_AMP, 1, dt.datetime(2026, 10, 1) + dt.timedelta(days=d),
           patient_id="PSN:z", prescriber_id="CMP-1")
    session.commit()
    clear_cache()
    assert _data_span(session)[1] == dt.datetime(2026, 12, 28)
