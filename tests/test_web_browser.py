"""Real-browser tests in Debian's headless Chromium: the analyst and pharmacist journeys."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.web_support import PASSWORD

pytestmark = pytest.mark.browser

BAD_UPLOAD = (
    "event_id,event_type,occurred_at,establishment_id,product_code,quantity,counterparty_id\n"
    "BR-1,receipt,2025-12-01T10:00:00-05:00,EST-LIM-H1,FEN-AMP,10,EST-DIST\n"
    "BR-2,receipt,2025-12-01T11:00:00-05:00,EST-LIM-H1,FEN-AMP,-4,EST-DIST\n"
)


@pytest.fixture
def live_world(session):
    """The sample world dated around the real clock (the live server's clock is not frozen)."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.web.views.common import clear_cache
    from tests.sample import seed_sample

    clear_cache()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ids = seed_sample(session, now)
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    return ids


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    # The form posts and redirects: wait for that navigation, not for the current page's load.
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_analyst_inbox_alert_triage_upload_and_map(browser_page, live_app, live_world, tmp_path):
    page, base = browser_page, live_app
    _login(page, base, "analista")
    assert page.url.endswith("/alerts")
    rows = page.locator("#alerts-table tbody tr")
    assert rows.count() == 5
    # Sorted by score: the critical stock gap comes first.
    assert "Faltante" in rows.first.inner_text()
    page.click(f"a[href='/alerts/{live_world['prescriber_volume']}']")
    assert page.locator("#alert-id").inner_text() == live_world["prescriber_volume"]
    assert page.locator("svg.chart polyline").count() == 2
    page.select_option("#case-action", "triage")
    page.fill("input[name=note]", "Revisión iniciada")
    with page.expect_navigation():
        page.click("#case-submit")
    assert "en revisión" in page.locator("#alert-status").inner_text()
    assert "Revisión iniciada" in page.content()

    upload = tmp_path / "movements.csv"
    upload.write_text(BAD_UPLOAD, encoding="utf-8")
    page.goto(f"{base}/imports")
    page.set_input_files("input[name=files]", str(upload))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_url("**/imports/*")
    assert page.locator("#accepted").inner_text() == "1"
    assert page.locator("#rejected").inner_text() == "1"
    reason = page.locator("#rejections td.reason").first.inner_text()
    assert reason and "quantity" in page.locator("#rejections").inner_text()

    page.goto(f"{base}/map")
    assert page.locator("#peru-map svg path").count() == 25
    page.click("svg.map a[href='/map?region=15&layer=rate']")
    page.wait_for_url("**/map?region=15*")
    assert page.locator("#peru-map svg path").count() == 10  # Lima's provinces
    page.click("#map-crumbs a[href^='/map?region=&']")
    page.wait_for_url("**/map?region=&*")
    page.click("#map-table a[href='/profiles/region/15']")
    page.wait_for_url("**/profiles/region/15")
    assert "Lima" in page.locator("h1").inner_text()


def test_pharmacist_looks_up_a_patient_in_one_form(browser_page, live_app, live_world):
    page, base = browser_page, live_app
    _login(page, base, "farmacia")
    assert page.url.endswith("/lookup")
    page.fill("input[name=document_number]", "44556677")
    page.select_option("select[name=reason]", "dispensing")
    page.check("input[name=attest]")
    page.click("form.lookup-form button[type=submit]")
    page.wait_for_selector("#result")
    assert page.locator("#dispensations tbody tr").count() == 13
    assert live_world["patient_lima"] in page.locator("#result h2").inner_text()
    assert "44556677" not in page.content()
    assert page.locator("#result svg.chart").count() == 1


def test_online_lead_page_says_which_part_decided(browser_page, live_app, live_world, session):
    """An analyst opens a lead from darknet listings (market context) in Chromium."""
    from pathlib import Path

    from centinela.online.service import ingest_file

    fix = Path(__file__).parent / "fixtures" / "online" / "darknet_listings.csv"
    report = ingest_file(session, fix, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    session.commit()
    assert report.leads
    page, base = browser_page, live_app
    _login(page, base, "analista")
    page.goto(f"{base}/online/leads/{report.leads[0]}")
    decided = page.locator("p.decided").first.inner_text()
    assert "Decidió" in decided and "anuncio de mercado" in decided
    assert "test strips" not in page.content()  # a harm-reduction listing is not an offer


def test_pharmacist_sees_an_invalid_document_then_a_patient_with_a_benzodiazepine_and_the_pdf(
        browser_page, live_app, live_world, session):
    import datetime as dt

    from centinela.ledger.records import Movement
    from centinela.registry.models import Product

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    session.add(Product(product_code="CLO-2", name="Clonazepam 2 mg tableta",
                        substance="clonazepam", dosage_form="tablet", strength_mg_per_unit=2))
    session.add(Movement(event_id="BZ-1", event_type="dispense",
                         occurred_at=now - dt.timedelta(days=3), establishment_id="EST-LIM-F1",
                         product_code="CLO-2", quantity=30, prescription_id="RB-1",
                         prescriber_id="CMP-000002", patient_id=live_world["patient_lima"],
                         days_supply=30, content_hash="b" * 32))
    session.commit()
    page, base = browser_page, live_app
    _login(page, base, "farmacia")

    def ask(number):
        page.fill("input[name=document_number]", number)
        page.select_option("select[name=reason]", "dispensing")
        page.check("input[name=attest]")
        with page.expect_navigation():
            page.click("form.lookup-form button[type=submit]")

    ask("1234")
    assert "un DNI tiene exactamente 8 dígitos" in page.locator("p.error").inner_text()
    assert page.locator("#result").count() == 0
    ask("44556677")
    page.wait_for_selector("#result")
    warnings = page.locator("[data-warning]").all_inner_texts()
    assert any("benzodiacepina" in w for w in warnings) and any("naloxona" in w for w in warnings)
    assert int(page.locator("#overlap-days").inner_text()) >= 1
    assert page.locator("#risk-factors tbody tr").count() == 6
    # Numbers line up on the right in data tables (the table rule used to win over .num).
    assert page.locator("#risk-factors td.num").first.evaluate(
        "e => getComputedStyle(e).textAlign") == "right"
    with page.expect_download() as info:
        page.click("#report-pdf")
    path = info.value.path()
    assert open(path, "rb").read(4) == b"%PDF"
