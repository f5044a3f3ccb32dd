"""The analyst's workspace in Debian's headless Chromium: the inbox and an alert page fit
(under 4,000 px tall at 1,366 px wide, no horizontal overflow at 390 px), a case's close form
refuses to submit without an outcome, and the screenshots of docs/web.md.

Set ``CENTINELA_SCREENSHOT_DIR`` to keep the screenshots (docs/screenshots/ holds the committed
ones).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import os
from pathlib import Path

import pytest

from tests.web_support import PASSWORD, fast_argon2  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def live_world(session):
    """The sample world around the real clock, with 80 more movements behind one alert."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.ledger.records import Movement
    from centinela.web.views.common import clear_cache
    from tests.sample import seed_sample

    clear_cache()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ids = seed_sample(session, now)
    for i in range(80):
        eid = f"BR-D-{i}"
        session.add(Movement(event_id=eid, event_type="dispense", occurred_at=now
                             - dt.timedelta(days=2 + i), establishment_id="EST-LIM-F1",
                             product_code="FEN-PATCH", quantity=1, prescription_id=f"RXB-{i}",
                             prescriber_id="CMP-000001", patient_id=ids["patient_lima"],
                             content_hash=hashlib.md5(eid.encode()).hexdigest()))
    # A full inbox page: 40 more establishments with a long-winded alert each.
    from centinela.alerts.service import AlertDraft, upsert_alert

    for i in range(40):
        upsert_alert(session, AlertDraft(
            "stock_gap", "establishment", f"EST-X-{i:03d}", "medium", 45.0 + i / 10,
            now - dt.timedelta(days=60), now - dt.timedelta(days=2),
            f"Faltante de inventario no explicado de {i + 3} ampollas de fentanilo citrato "
            "0.05 mg/mL x 2 mL entre el conteo de apertura y el de cierre del mes.",
            {"missing_units": float(i + 3)}, department="15"), now=now)
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    return ids


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def _size(page) -> tuple[int, int, int]:
    """Return (document height, document width, viewport width) in CSS pixels."""
    return page.evaluate("[document.documentElement.scrollHeight,"
                         " document.documentElement.scrollWidth, window.innerWidth]")


def _shots() -> Path | None:
    folder = os.environ.get("CENTINELA_SCREENSHOT_DIR")
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_inbox_and_alert_fit_desktop_and_phone(browser_page, live_app, live_world):
    page, base = browser_page, live_app
    _login(page, base, "analista")
    alert = live_world["prescriber_volume"]
    shots = _shots()
    for path in ("/alerts?status=all", f"/alerts/{alert}"):
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(base + path)
        height, width, view = _size(page)
        assert height < 4000, f"{path}: {height}px tall at 1366px"
        assert width <= view, f"{path}: {width}px wide at 1366px"
        if shots and path.startswith("/alerts?"):
            page.screenshot(path=str(shots / "workspace_inbox.png"), full_page=True)
        if shots and path.startswith(f"/alerts/{alert}"):
            page.screenshot(path=str(shots / "workspace_alert_movements.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(base + path)
        height, width, view = _size(page)
        assert width <= view, f"{path}: horizontal overflow at 390px ({width}px)"
        if shots and path.startswith("/alerts?"):
            page.screenshot(path=str(shots / "workspace_inbox_phone.png"), full_page=False)
    page.goto(f"{base}/alerts?status=all")
    assert page.locator("#alerts-table tbody tr").count() == 25
    assert "de 45" in page.locator("#inbox-totals").inner_text()
    # The movements behind the alert come in pages with totals and a CSV download.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/alerts/{alert}")
    assert "Filas 1–15 de" in page.locator("#movements-totals").inner_text()
    assert page.locator("#movements-csv").count() == 1


def test_case_from_alert_close_needs_an_outcome_in_the_form(browser_page, live_app, live_world):
    page, base = browser_page, live_app
    _login(page, base, "analista")
    alert = live_world["stock_gap"]
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/alerts/{alert}")
    with page.expect_navigation():
        page.click("#open-case button")
    assert "/cases/CEN-" in page.url
    page.fill("#case-update textarea[name=note]", "Inspección programada con la DIRESA")
    with page.expect_navigation():
        page.click("#case-update button[type=submit]")
    # The browser itself refuses to submit the close form without an outcome.
    url = page.url
    page.click("#case-close-submit")
    assert page.url == url
    assert page.evaluate("document.querySelector('#case-outcome').validity.valueMissing")
    assert "abierto" in page.locator("#case-status").inner_text()
    height, width, view = _size(page)
    assert height < 4000 and width <= view
    shots = _shots()
    if shots:
        page.screenshot(path=str(shots / "workspace_case.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    height, width, view = _size(page)
    assert width <= view, f"case page: horizontal overflow at 390px ({width}px)"
    # Export preview: the filtered inbox as the CSV an analyst downloads, shown as a table.
    if shots:
        page.set_viewport_size({"width": 1366, "height": 900})
        text = page.request.get(f"{base}/alerts.csv?status=all").text()
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        keep = [0, 2, 4, 5, 6, 7, 12, 13, 14, 16]
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(r[i])}</td>" for i in keep) + "</tr>"
                        for r in rows[1:16])
        head = "".join(f"<th>{html.escape(rows[0][i])}</th>" for i in keep)
        page.set_content(
            "<style>body{font:13px system-ui;margin:1rem}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}</style>"
            f"<h1>centinela-alertas.csv ({len(rows) - 1} filas; las 15 primeras)</h1><table><tr>{head}</tr>{cells}</table>")
        page.screenshot(path=str(shots / "workspace_export_csv.png"), full_page=True)


def test_lot_custody_flow_fits(browser_page, live_app, live_world):
    page, base = browser_page, live_app
    _login(page, base, "analista")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/profiles/lot/L2025A")
    steps = page.locator("#custody-flow .step h3").all_inner_texts()
    assert steps == ["Distribuidor", "Establecimiento", "Paciente o incautación"]
    height, width, view = _size(page)
    assert height < 4000 and width <= view
    shots = _shots()
    if shots:
        page.locator("#custody").screenshot(path=str(shots / "workspace_lot_custody.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    height, width, view = _size(page)
    assert width <= view, f"lot page: horizontal overflow at 390px ({width}px)"
