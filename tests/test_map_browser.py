"""The map's drill-down in Debian's headless Chromium: Peru → Lima → Lima province → districts.

Set ``CENTINELA_SCREENSHOT_DIR=docs/screenshots`` to refresh the committed screenshots
(``map-peru.png``, ``map-lima-provinces.png``, ``map-lima-districts.png``, ``map-phone.png``).
"""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import pytest

from tests.web_support import PASSWORD, fast_argon2  # noqa: F401

pytestmark = pytest.mark.browser


def spread_use(session, now: dt.datetime, seed: int = 7) -> None:
    """Synthetic pharmacies in a few dozen districts (Lima and elsewhere) with a year of
    fentanyl dispensing, so every level of the map has something to shade. Nothing is real."""
    from centinela.ledger.records import Movement, Seizure
    from centinela.reference.ubigeo import districts
    from tests.sample import _est

    rnd = random.Random(seed)
    codes = sorted(districts())
    lima = [c for c in codes if c.startswith("1501")]
    other = [c for c in codes if c[:2] in ("04", "13", "20", "08", "11", "16", "07")]
    chosen = rnd.sample(lima, 24) + rnd.sample(other, 30)
    for i, ub in enumerate(chosen):
        eid = f"EST-SYN-{i:03d}"
        session.add(_est(eid, f"Botica sintética {i}", "pharmacy", ub))
        for k in range(rnd.randint(3, 30)):
            session.add(Movement(
                event_id=f"SYN-{i}-{k}", event_type="dispense",
                occurred_at=now - dt.timedelta(days=rnd.randint(1, 360)), establishment_id=eid,
                product_code=rnd.choice(["FEN-AMP", "FEN-PATCH"]),
                quantity=rnd.randint(1, 40), content_hash=f"{i:04d}{k:04d}".ljust(32, "0")))
        if i % 5 == 0:
            session.add(Seizure(seizure_id=f"SZ-SYN-{i}", occurred_at=now - dt.timedelta(days=30),
                                ubigeo=ub, agency="PNP", content_hash=f"sz{i:04d}".ljust(32, "0")))
    session.commit()


def test_map_drill_down_in_the_browser(browser_page, live_app, session, tmp_path):
    from centinela.accounts.demo import seed_demo_users
    from centinela.web.views.common import clear_cache
    from tests.sample import seed_sample
    from tests.test_web_browser import _login

    clear_cache()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    seed_sample(session, now)
    seed_demo_users(session, password=PASSWORD)
    spread_use(session, now)
    page, base = browser_page, live_app
    shots = Path(os.environ.get("CENTINELA_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    _login(page, base, "analista")
    page.goto(f"{base}/map")
    assert page.locator("#peru-map svg path").count() == 25
    assert "mg por 100" in page.locator("#map-legend").inner_text()
    page.screenshot(path=str(shots / "map-peru.png"), full_page=True)
    # Click Lima on the map: its ten provinces.
    with page.expect_navigation():
        page.click("svg.map a[href='/map?region=15&layer=rate'] path", force=True)
    assert page.locator("#peru-map svg path").count() == 10
    assert "Lima" in page.locator("#map-crumbs").inner_text()
    rate = page.locator("#map-parent-rate").inner_text()
    page.screenshot(path=str(shots / "map-lima-provinces.png"), full_page=True)
    # Click the province of Lima: its districts.
    with page.expect_navigation():
        page.click("svg.map a[href='/map?region=1501&layer=rate'] path", force=True)
    assert page.locator("#peru-map svg path").count() >= 40
    assert page.locator("#peru-map svg path.shade-5").count() >= 1
    page.screenshot(path=str(shots / "map-lima-districts.png"), full_page=True)
    # The region profile writes the same figure as the map.
    page.goto(f"{base}/profiles/region/15")
    figure = rate.split(":", 1)[1].split("mg")[0].strip()
    assert figure in page.locator("dl.facts").inner_text()
    # Seizures layer, on a phone: no horizontal overflow.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/map?region=15&layer=seizures")
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(shots / "map-phone.png"), full_page=False)
