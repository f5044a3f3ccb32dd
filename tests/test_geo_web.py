"""The map's outlier layer and ranked table of flagged places (regional_outlier alerts)."""

from __future__ import annotations

import datetime as dt

from centinela.alerts.service import AlertDraft, upsert_alert
from centinela.detect.detectors.regional_outlier import RegionalOutlier
from tests.web_support import login

HTML = {"accept": "text/html"}


def _flag(session, code: str, name: str, channel: str, ratio: float) -> str:
    draft: AlertDraft = RegionalOutlier().draft(
        code, 1_750_000_000, 1_780_000_000, 1.0, 1e5 * ratio,
        f"Distrito {name}: {ratio:.1f} veces lo esperado.",
        {"channel": channel, "level": "district" if len(code) == 6 else "department",
         "region_name": name, "ratio": ratio, "rate_per_100k": 1000.0 * ratio,
         "expected_per_100k": 1000.0,
         "establishments": [{"id": f"EST-{code}", "mme": 9e5, "share": 0.8}],
         "prescribers": [{"id": "CMP-000777", "mme": 7e5, "share": 0.6}]},
        department=code[:2], ubigeo=code if len(code) == 6 else None)
    alert, _ = upsert_alert(session, draft, now=dt.datetime(2026, 1, 1))
    return alert.alert_id


def test_map_shows_flagged_places_with_drivers_and_respects_scope(app, world, session):
    lima = _flag(session, "150111", "El Agustino (Lima, Lima)", "hospital", 4.2)
    piura = _flag(session, "20", "Piura", "retail", 6.3)
    session.commit()
    client = login(app, "analista")
    ctx = client.get("/api/v1/map").json()
    places = {o["code"]: o for o in ctx["outliers"]}
    assert set(places) == {"150111", "20"}
    assert places["150111"]["drivers"] == ["EST-150111 (80 %)"]
    assert places["150111"]["prescribers"] == ["CMP-000777 (60 %)"]
    assert 0 < places["150111"]["x"] < 520 and 0 < places["150111"]["y"] < 760
    page = client.get("/map", headers=HTML).text
    assert 'id="outlier-table"' in page and f'href="/alerts/{lima}"' in page
    assert page.count('class="outlier outlier-') == 2 and "EST-150111 (80 %)" in page
    # A regional analyst of Piura sees only Piura's flagged place.
    ctx = login(app, "piura").get("/api/v1/map").json()
    assert [o["alert_id"] for o in ctx["outliers"]] == [piura]


def test_map_says_when_nothing_is_flagged(app, world):
    page = login(app, "analista").get("/map", headers=HTML).text
    assert 'id="outlier-none"' in page


def test_browser_map_layer_links_to_the_alert(browser_page, live_app, session, tmp_path):
    """Real Chromium: the circles are drawn on the map, the table ranks the places and a click on
    a circle opens the alert."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.web.views.common import clear_cache
    from tests.test_web_browser import _login
    from tests.web_support import PASSWORD

    clear_cache()
    seed_demo_users(session, password=PASSWORD)
    lima = _flag(session, "150111", "El Agustino (Lima, Lima)", "hospital", 4.2)
    _flag(session, "1605", "Loreto (Loreto)", "retail", 6.3)
    session.commit()
    page, base = browser_page, live_app
    _login(page, base, "analista")
    page.goto(f"{base}/map")
    assert page.locator("svg.map circle.outlier").count() == 2
    rows = page.locator("#outlier-table tbody tr")
    assert rows.count() == 2 and "EST-150111" in page.locator("#outlier-table").inner_text()
    page.screenshot(path=str(tmp_path / "map.png"), full_page=True)
    with page.expect_navigation():
        page.click(f"svg.map a[href='/alerts/{lima}'] circle", force=True)
    assert page.locator("#alert-id").inner_text() == lima
