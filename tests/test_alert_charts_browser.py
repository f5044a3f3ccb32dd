"""Alert charts in Debian's headless Chromium at a phone (390 px) and a laptop (1366 px) width:
no chart text leaves its SVG box (a clipped label), and date ticks do not overlap.

Set ``CENTINELA_SCREENSHOT_DIR`` to keep one screenshot per detector family
(docs/screenshots/alert-*.png holds the committed ones).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_alert_charts import FAMILIES, detected, psychotropics_world, year  # noqa: F401
from tests.web_support import PASSWORD, fast_argon2  # noqa: F401

pytestmark = pytest.mark.browser

# Every visible alert chart: texts outside the SVG's box, and x ticks overlapping each other.
CHECK = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.alert-chart')) {
    const box = svg.getBoundingClientRect();
    if (box.width === 0) continue;  // the drawing for the other screen width
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        out.push(`clipped: "${t.textContent}" in ${svg.getAttribute('aria-label')}`);
    }
    const ticks = [...svg.querySelectorAll('text.x-tick')].map(t => t.getBoundingClientRect());
    for (let i = 1; i < ticks.length; i++)
      if (ticks[i].left < ticks[i - 1].right)
        out.push(`overlapping ticks in ${svg.getAttribute('aria-label')}`);
    const font = parseFloat(getComputedStyle(svg.querySelector('text')).fontSize)
                 * box.width / svg.viewBox.baseVal.width;
    if (font < 9) out.push(`text ${font.toFixed(1)} px in ${svg.getAttribute('aria-label')}`);
  }
  return out;
}"""


def _login(page, base):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "analista")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_chart_labels_fit_at_phone_and_laptop_widths(browser_page, live_app, detected):  # noqa: F811
    page, base = browser_page, live_app
    _login(page, base)
    shots = os.environ.get("CENTINELA_SCREENSHOT_DIR")
    problems: dict[str, list[str]] = {}
    for family, detectors in FAMILIES.items():
        for detector in detectors:
            alert_id = detected.get(detector)
            assert alert_id, detector
            for width in (390, 1366):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(f"{base}/alerts/{alert_id}")
                assert page.locator("svg.alert-chart").count() >= 2
                visible = page.evaluate("() => [...document.querySelectorAll('svg.alert-chart')]"
                                        ".filter(s => s.getBoundingClientRect().width > 0).length")
                assert visible >= 1, (detector, width)
                bad = page.evaluate(CHECK)
                if bad:
                    problems[f"{detector}@{width}"] = bad
                if shots and detector == detectors[0]:
                    _shoot(page, Path(shots) / f"alert-{family}-{width}.png")
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_psychotropics_chart_labels_fit(browser_page, live_app, session):
    page, base = browser_page, live_app
    alerts = psychotropics_world(session)
    _login(page, base)
    shots = os.environ.get("CENTINELA_SCREENSHOT_DIR")
    problems = {}
    for detector in ("opioid_benzodiazepine_overlap", "coprescribing_prescriber"):
        for width in (390, 1366):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}/alerts/{alerts[detector]}")
            assert page.locator("svg.alert-chart").count() >= 2
            bad = page.evaluate(CHECK)
            if bad:
                problems[f"{detector}@{width}"] = bad
            if shots and detector == "opioid_benzodiazepine_overlap":
                _shoot(page, Path(shots) / f"alert-psychotropics-{width}.png")
    assert not problems, problems


def _shoot(page, path: Path) -> None:
    """Screenshot from the page's top to the end of the evidence table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bottom = page.evaluate("() => { const e = document.querySelector('#evidence');"
                           " return e.getBoundingClientRect().bottom + window.scrollY + 8; }")
    width = page.viewport_size["width"]
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": width, "height": min(bottom, 2600)})


def test_new_findings_charts_fit_and_read_in_chromium(browser_page, live_app, engine, session):
    """This stop's findings (a dentist's patches, doses after the course, whole ampoules, a nurse
    behind reused serials, a receiver behind lost shipments) in the browser: the sentence, a
    chart whose labels fit, at both widths."""
    from tests.test_alert_pages_new_findings import CASES
    from tests.test_alert_pages_new_findings import alerts as make_alerts

    found = make_alerts.__wrapped__(engine, session)
    page, base = browser_page, live_app
    _login(page, base)
    problems = {}
    for key, said in CASES.items():
        for width in (390, 1366):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}/alerts/{found[key]}?lang=es")
            assert said["es"] in page.inner_text("main"), key
            assert page.locator("svg.alert-chart").count() >= 1, key
            bad = page.evaluate(CHECK)
            if bad:
                problems[f"{key}@{width}"] = bad
    assert not problems, problems
