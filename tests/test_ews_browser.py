"""The EWS classifier page in Debian's headless Chromium: mixture, salt, bad structure."""

from __future__ import annotations

import pytest

from tests.web_support import PASSWORD

pytestmark = pytest.mark.browser

FENTANYL = "CCC(=O)N(c1ccccc1)C1CCN(CCc2ccccc2)CC1"
NOSCAPINE = "COc1ccc2c(c1OC)C(=O)O[C@@H]2[C@@H]1N(C)CCc2cc3c(c(OC)c21)OCO3"


def test_classifier_page_in_real_browser(browser_page, live_app, session):
    from centinela.accounts.demo import seed_demo_users

    seed_demo_users(session, password=PASSWORD)
    session.commit()
    page, base = browser_page, live_app
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "analista")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"{base}/ews/classify")
    page.fill("input[name=q]", f"{FENTANYL}.{NOSCAPINE}.Cl")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    box = page.locator("#classification")
    assert box.get_attribute("data-family") == "fentanyl"
    assert box.get_attribute("data-controlled") == "yes"
    text = box.inner_text()
    assert "fentanilo" in text and "Ley N.° 32250" in text
    rows = page.locator("table.components tbody tr")
    assert rows.count() == 3 and "hydrochloride" in rows.nth(2).inner_text()
    page.goto(f"{base}/ews/classify?q=%2AC")  # a wildcard atom: a clear message, no error page
    assert "comodín" in page.locator("#classification .error").inner_text()
    page.goto(f"{base}/ews/classify?q=buprenorfina")
    assert page.locator("#classification").get_attribute("data-family") == "other_opioid"
    assert "morfinano" in page.locator("#classification").inner_text()
    # a name as a police report writes it: the mixture's parts and the opioid that keys it
    page.goto(f"{base}/ews/classify?q=Hero%C3%ADna+cortada+con+fentanillo+y+xilazina")
    assert page.locator("#classification").get_attribute("data-family") == "fentanyl"
    assert page.locator("table.components tbody tr").count() == 3
    assert "fentanillo" in page.locator("#classification .notes").inner_text()
    page.goto(f"{base}/ews/classify?q=orto-metilfentanilo")
    assert "revisión experta" in page.locator("#classification .error").inner_text()
