"""The alert inbox and the pages around it on a phone, in Debian's headless Chromium (QA walk):
no sideways scroll at 390 px, the inbox's lines as cards whose summary has the width, the
desktop table unchanged, subject words never broken, and the lookup chart's x labels apart."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from tests.web_support import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
LONG = ("EST-LIM-F1 dispensó 43 de 89 recetas de opioides de alta potencia (48 %) a pacientes de "
        "una sola dispensación y sin historial, frente a 5 % en boticas; las firman sobre todo "
        "CMP-000003 (100 %), 100 % de prescriptores de otro departamento; desde el 2025-10-23: "
        "86 pacientes, 156 600 MME. Identificador-de-lote-muy-largo-sin-espacios-FA2260102810141")


@pytest.fixture
def phone_world(session, engine):
    """The sample world around the real clock, long alerts (many on one page) and two imports:
    one refused whole, one with a rejected record."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.alerts.service import AlertDraft, upsert_alert
    from centinela.ingest.fields import SPECS
    from centinela.ingest.service import import_uploaded_files
    from centinela.web.views.common import clear_cache
    from tests.sample import seed_sample

    clear_cache()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ids = seed_sample(session, now)
    seed_demo_users(session, password=PASSWORD)
    for i in range(24):
        upsert_alert(session, AlertDraft(
            "pharmacy_patient_mix" if i % 2 else "uncertified_handler", "establishment",
            f"EST-LIM-F{i + 2}", "high", 60.0 + i, now - dt.timedelta(days=40 + i),
            now - dt.timedelta(days=3), LONG, {"occurrence_count": 1 + i % 3}, department="15"),
            now=now)
    session.commit()
    fields = list(SPECS["movements"].fields)
    refused = ";".join(fields) + "\n"
    row = dict.fromkeys(fields, "") | {
        "event_id": "PH-1", "event_type": "receipt", "occurred_at": "2025-12-01T10:00:00-05:00",
        "establishment_id": "EST-LIM-H1", "product_code": "NO-SUCH", "quantity": "10",
        "counterparty_id": "EST-DIST"}
    mixed = ",".join(fields) + "\n" + ",".join(row[f] for f in fields) + "\n"
    runs = [import_uploaded_files(engine, [("movements.csv", body.encode())],
                                  submitted_by="analista", now=now).import_id
            for body in (refused, mixed)]
    return {**ids, "runs": runs}


def _login(page, base, username):
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def _no_sideways_scroll(page, what: str) -> None:
    width, inner = page.evaluate(
        "[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{what}: scrollWidth {width} > {inner} at {inner} px"


def test_inbox_on_a_phone_is_cards_without_sideways_scroll(browser_page, live_app, phone_world):
    page, base = browser_page, live_app
    _login(page, base, "analista")
    for lang in ("es", "en"):
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/alerts?lang={lang}")
        _no_sideways_scroll(page, f"/alerts ({lang})")
        rows = page.locator("#alerts-table tbody tr")
        assert rows.count() == 25
        card = rows.first.bounding_box()
        summary = rows.first.locator("td.c-summary").bounding_box()
        assert card and summary and summary["width"] >= 0.85 * (card["width"] - 30)
        assert summary["width"] >= 300, summary  # it was ~40 px: "dispe nsó"
        # Every other cell says what it is; the sort links stay (a wrapped header row).
        assert rows.first.locator("td.c-detector").evaluate(
            "e => getComputedStyle(e, '::before').content").startswith('"')
        assert page.locator("#alerts-table thead a.sort").first.is_visible()
        # A detector chosen in the filter (a long name) still fits.
        page.select_option("#inbox-filters select[name=detector]", "pharmacy_patient_mix")
        expect(rows).to_have_count(12)  # htmx swaps the rows in
        _no_sideways_scroll(page, f"/alerts?detector=… ({lang})")
    height = page.evaluate("document.scrollingElement.scrollHeight")
    page.goto(f"{base}/alerts")
    phone_height = page.evaluate("document.scrollingElement.scrollHeight")
    assert phone_height < 12000, phone_height  # 25 lines; it was 21,557 px
    assert height > 0
    # The desktop keeps its table, and the subject's words are never cut ("Establecimi ento").
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/alerts")
    _no_sideways_scroll(page, "/alerts at 1366 px")
    assert page.locator("#alerts-table thead").evaluate(
        "e => getComputedStyle(e).display") == "table-header-group"
    assert page.locator("#alerts-table tbody tr").first.evaluate(
        "e => getComputedStyle(e).display") == "table-row"
    for kind in page.locator("#alerts-table td.c-subject .kind").all()[:10]:
        assert kind.evaluate("e => e.getClientRects().length") == 1
        assert kind.evaluate("e => e.getBoundingClientRect().height") < 30


def test_pages_around_the_inbox_fit_a_phone(browser_page, live_app, phone_world):
    page, base = browser_page, live_app
    refused, mixed = phone_world["runs"]
    _login(page, base, "analista")
    page.set_viewport_size(PHONE)
    for path in ("/imports", f"/imports/{refused}", f"/imports/{mixed}", "/api/docs",
                 "/api/docs?lang=en", f"/alerts/{phone_world['region_rise']}"):
        page.goto(base + path)
        _no_sideways_scroll(page, path)
    page.goto(f"{base}/api/docs")
    page.locator("details.api-op").first.locator("summary").click()
    _no_sideways_scroll(page, "/api/docs with an operation open")
    _login(page, base, "medico")
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/lookup")
    page.fill("form[action='/lookup'] input[name=document_number]", "12345678")
    page.check("form[action='/lookup'] input[name=attest]")
    with page.expect_navigation():
        page.click("form[action='/lookup'] button[type=submit]")
    assert page.locator("svg.chart").count() == 1
    _no_sideways_scroll(page, "/lookup with a result")
    # The chart's x labels never overlap (they did: "2026-10-172026-12-01").
    page.set_viewport_size(DESKTOP)
    boxes = page.eval_on_selector_all("svg.chart text.x-tick",
                                      "els => els.map(e => { const b = e.getBBox(); "
                                      "return [b.x, b.x + b.width, e.textContent]; })")
    assert len(boxes) >= 5
    for (_, right, a), (left, _, b) in zip(boxes, boxes[1:], strict=False):
        assert right < left, (a, b)
