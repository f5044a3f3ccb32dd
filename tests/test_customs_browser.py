"""The customs officer's journey in Debian's headless Chromium, on SYNTHETIC parcels.

Set ``CENTINELA_SCREENSHOT_DIR`` to keep the screenshots (docs/screenshots/ holds the committed ones).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.web_support import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def customs_world(session, tmp_path):
    from centinela.accounts.demo import seed_demo_users
    from centinela.customs.generate import generate, write
    from centinela.customs.intake import import_parcels_file
    from centinela.customs.review import import_outcomes_file
    from centinela.customs.triage import triage

    folder = tmp_path / "gen"
    write(generate(1500, seed=11), folder, images=60, seed=11)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    import_parcels_file(session, folder / "parcels.csv", None)
    import_outcomes_file(session, folder / "outcomes.csv", "import", now)
    triage(session, now)
    seed_demo_users(session, password=PASSWORD)
    session.commit()


def test_officer_reviews_queue_sees_xray_and_records_a_seizure(browser_page, live_app,
                                                                  customs_world, tmp_path):
    page, base = browser_page, live_app
    shots = Path(os.environ.get("CENTINELA_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "aduana")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"{base}/customs")
    assert page.url.endswith("/customs/queue")
    nav = page.locator("nav").first.inner_html()
    assert "/customs" in nav and "/alerts" not in nav
    rows = page.locator("#customs-queue tbody tr")
    assert rows.count() > 20
    # Scores in the page's style (es-PE: decimal comma, "0,983").
    scores = [float(rows.nth(i).locator("td").nth(2).inner_text().replace(",", "."))
              for i in range(10)]
    assert scores == sorted(scores, reverse=True)
    assert page.locator("#customs-queue tbody tr.top").count() >= 1
    assert "SINTÉTICOS" in page.content()
    page.screenshot(path=str(shots / "customs_queue.png"), full_page=False)
    # Open the first parcel that has an image.
    link = page.locator("#customs-queue tbody tr:has-text('▣') td:nth-child(2) a").first
    with page.expect_navigation():
        link.click()
    img = page.locator("img#xray")
    img.wait_for()
    page.wait_for_function("document.querySelector('img#xray').naturalWidth > 0")
    assert page.locator("#factors tbody tr").count() >= 1
    page.screenshot(path=str(shots / "customs_parcel.png"), full_page=True)
    page.select_option("select[name=outcome]", "seized")
    page.fill("input[name=substance]", "fentanilo")
    page.fill("input[name=net_mass_mg]", "12000")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "CUS-" in page.locator("#outcome").inner_text()
