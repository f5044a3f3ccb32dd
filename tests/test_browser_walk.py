"""A walk of each staff role's main pages in Debian's headless Chromium (issue 14, "done means").

For every page the walker fails on:
- an untranslated code in the visible text of the Spanish interface: a snake_case token such as
  ``net_inflow_z`` or a detector code such as ``regional_outlier`` (a conservative pattern, with an
  allow-list; text inside ``<code>``, ``<pre>``, form fields and ``translate="no"`` is skipped);
- a chart label clipped: an SVG ``<text>`` whose box lies outside its SVG's viewBox;
- a page taller than 4,000 px at 1366 px wide;
- horizontal overflow at 390 px wide (``document.scrollingElement.scrollWidth > innerWidth``).

KNOWN below lists pages that other work in issue 14 is fixing; their findings are reported
(printed, and as a pytest warning) but do not fail the walk. Remove an entry once its work is
merged: the walk then holds that page to the same rules.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings

import pytest

from tests.web_support import PASSWORD, fast_argon2  # noqa: F401

pytestmark = pytest.mark.browser

# ---------------------------------------------------------------------------------------------
# Known findings being fixed elsewhere: (path regex, check or "*", who/why). ONE place to edit.
# ---------------------------------------------------------------------------------------------
KNOWN: list[tuple[str, str, str]] = []  # every page is held to the rules

MAX_HEIGHT = 4000
# snake_case (two or more lower-case words joined by "_"), the shape of our codes and keys.
CODE = re.compile(r"(?<![\w@./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/-])")
ALLOWED_CODES: set[str] = set()  # tokens that may legitimately show (none so far)

# The visible text of the page, without code, form values and what is marked not to translate.
VISIBLE_TEXT_JS = """() => {
  const skip = new Set(['SCRIPT', 'STYLE', 'CODE', 'PRE', 'TEXTAREA', 'INPUT', 'NOSCRIPT', 'TITLE']);
  const out = [];
  const walk = (el) => {
    if (skip.has(el.tagName) || el.getAttribute('translate') === 'no' || el.hidden) return;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return;
    for (const n of el.childNodes) {
      if (n.nodeType === 3) out.push(n.textContent);
      else if (n.nodeType === 1) walk(n);
    }
  };
  walk(document.body);
  return out.join(' ');
}"""

# SVG <text> boxes outside their svg's viewBox (1 px tolerance).
CLIPPED_JS = """() => {
  const bad = [];
  for (const svg of document.querySelectorAll('svg')) {
    const vb = svg.viewBox && svg.viewBox.baseVal;
    if (!vb || !vb.width) continue;
    for (const t of svg.querySelectorAll('text')) {
      let b, m; try { b = t.getBBox(); m = svg.getScreenCTM().inverse().multiply(t.getScreenCTM()); }
      catch (e) { continue; }
      if (!b.width) continue;
      // The text's box in its SVG's own coordinates (legends sit in translated groups).
      const p0 = new DOMPoint(b.x, b.y).matrixTransform(m);
      const p1 = new DOMPoint(b.x + b.width, b.y + b.height).matrixTransform(m);
      b = {x: Math.min(p0.x, p1.x), y: Math.min(p0.y, p1.y),
           width: Math.abs(p1.x - p0.x), height: Math.abs(p1.y - p0.y)};
      if (b.x < vb.x - 1 || b.y < vb.y - 1 || b.x + b.width > vb.x + vb.width + 1 ||
          b.y + b.height > vb.y + vb.height + 1)
        bad.push(t.textContent.trim().slice(0, 40));
    }
  }
  return bad;
}"""

# role → (username, pages beyond the menu); "{name}" is filled from the sample world's ids.
ROLES = {
    "admin": ("admin", ["/admin", "/admin/access", "/admin/authorities", "/admin/audit",
                        "/imports"]),
    "national_analyst": ("analista", [
        "/map?region=15", "/map?region=1501", "/map?layer=alerts", "/profiles/region/15",
        "/profiles/establishment/EST-LIM-H1", "/profiles/professional/CMP-000001",
        "/alerts/{prescriber_volume}", "/profiles/lot/L2025A"]),
    "regional_analyst": ("lima", ["/map?region=15", "/profiles/region/15"]),
    "police": ("policia", ["/alerts/{stock_gap}", "/access"]),
    "prescriber": ("medico", []),
    "pharmacist": ("farmacia", []),
    "delegate": ("tecnico", []),
    "customs": ("aduana", []),
}


@pytest.fixture
def walk_world(session):
    from centinela.accounts.demo import seed_demo_users
    from centinela.web.views.common import clear_cache
    from tests.sample import seed_sample

    clear_cache()
    ids = seed_sample(session, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    return ids


def _known(path: str, check: str) -> str | None:
    for pattern, which, why in KNOWN:
        if re.search(pattern, path) and which in ("*", check):
            return why
    return None


def _menu_paths(page) -> list[str]:
    hrefs = page.eval_on_selector_all("header.top nav a[href^='/']",
                                      "els => els.map(e => e.getAttribute('href'))")
    public = ("/reportar", "/asistente")
    return [h for h in dict.fromkeys(hrefs) if not h.startswith(public)]


def _check(page, base: str, path: str) -> list[tuple[str, str]]:
    """Return (check, detail) findings of one page."""
    found = []
    page.set_viewport_size({"width": 1366, "height": 900})
    resp = page.goto(base + path)
    if resp is None or resp.status >= 400:
        return [("status", f"HTTP {resp.status if resp else '?'}")]
    text = page.evaluate(VISIBLE_TEXT_JS)
    codes = sorted({c for c in CODE.findall(text) if c not in ALLOWED_CODES})
    if codes:
        found.append(("untranslated", ", ".join(codes[:8])))
    clipped = page.evaluate(CLIPPED_JS)
    if clipped:
        found.append(("clipped", "; ".join(clipped[:5])))
    height = page.evaluate("document.scrollingElement.scrollHeight")
    if height > MAX_HEIGHT:
        found.append(("tall", f"{height} px at 1366 px wide"))
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        found.append(("overflow", f"scrollWidth {width[0]} > {width[1]} at 390 px"))
    return found


def _login(page, base, username):
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


@pytest.mark.parametrize("role", list(ROLES))
def test_walk_role_pages(browser_page, live_app, walk_world, role):
    page, base = browser_page, live_app
    username, extra = ROLES[role]
    _login(page, base, username)
    assert "/login" not in page.url, f"{username} could not sign in"
    paths = list(dict.fromkeys([*_menu_paths(page), *(p.format(**walk_world) for p in extra)]))
    assert paths, f"{role} has no pages to walk"
    failures, known = [], []
    for path in paths:
        for check, detail in _check(page, base, path):
            why = _known(path, check)
            (known if why else failures).append(f"{path} [{check}] {detail}"
                                                + (f" (known: {why})" if why else ""))
    if known:
        print("\n".join(["known findings:", *known]))
        warnings.warn(f"{role}: {len(known)} known finding(s) on pages being fixed elsewhere",
                      stacklevel=1)
    assert not failures, f"{role} ({username}):\n" + "\n".join(failures)


# The audit log as a regulator reads it: codes and English the code writes, and their words.
AUDIT_RAW = ("token_id", "request_id", "dry_run", "inspected_negative", "new_prescription",
             "professional_id", "channel_id", "stored citizen reports", "case 45-2026",
             "printed report", "disabled by")
AUDIT_SAID = ("token de API n.º", "alcances", "lectura de alertas", "solicitud n.º",
              "caso 45-2026: orden fiscal", "Nueva prescripción: control de dolor",
              "declaró relación de tratamiento", "colegiatura", "inspeccionado sin hallazgo",
              "simulación (sin guardar cambios)", "línea de comandos (cli)", "canal n.º",
              "habilitado", "reportes ciudadanos guardados vueltos a anonimizar")


def _submit(page, form: str) -> None:
    with page.expect_navigation():
        page.click(f"{form} button[type=submit], {form} button:not([type])")


def _fill_audit_log(page, base, session) -> None:
    """Write audit entries as the system does: a police request, a prescriber's lookup and the
    admin's token, access decision and disabled channel through the pages; a customs review
    and a re-redaction dry run through their services."""
    from centinela.alerts.authorities import seed_authorities
    from centinela.customs.models import Parcel
    from centinela.customs.review import record_outcome
    from centinela.public.reredact import redact_stored

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    seed_authorities(session)
    session.add(Parcel(tracking_id="LP000000001PE", carrier="SERPOST", arrived_at=now,
                       origin_country="ES", sender_name="Tienda SL", sender_key="SND:a",
                       consignee_key="CNS:a", ubigeo="150101", declared_content="polo",
                       declared_value_usd=20.0, weight_kg=0.4, content_hash="x" * 32))
    session.flush()
    record_outcome(session, "LP000000001PE", "inspected_negative", "aduana", now)
    redact_stored(session, apply=False, actor="cli", now=now)
    session.commit()
    _login(page, base, "policia")
    page.goto(f"{base}/access")
    page.fill("form[action='/access'] input[name=case_number]", "45-2026")
    page.fill("form[action='/access'] input[name=document_number]", "44556677")
    page.fill("form[action='/access'] textarea[name=reason]", "investigación de receta falsificada")
    _submit(page, "form[action='/access']")
    _login(page, base, "medico")
    page.goto(f"{base}/lookup")
    page.fill("form[action='/lookup'] input[name=document_number]", "12345678")
    page.select_option("form[action='/lookup'] select[name=reason]", "new_prescription")
    page.fill("form[action='/lookup'] input[name=note]", "control de dolor")
    page.check("form[action='/lookup'] input[name=attest]")
    _submit(page, "form[action='/lookup']")
    _login(page, base, "admin")
    page.goto(f"{base}/admin")
    page.fill("form[action='/admin/tokens'] input[name=username]", "analista")
    page.fill("form[action='/admin/tokens'] input[name=name]", "tablero")
    page.check("form[action='/admin/tokens'] input[value='alerts:read']")
    _submit(page, "form[action='/admin/tokens']")
    page.goto(f"{base}/admin/access")
    page.fill("form[action^='/admin/access/'] input[name=note]", "orden fiscal")
    with page.expect_navigation():
        page.click("form[action^='/admin/access/'] button[value=approve]")
    page.goto(f"{base}/admin/authorities")
    with page.expect_navigation():
        page.locator("form[action^='/admin/channels/'] button").first.click()


def test_walk_admin_reads_authorities_and_the_audit_log_in_words(browser_page, live_app,
                                                                  walk_world, session):
    """The admin (the only role allowed) opens the authorities and the audit log after real
    work: each page passes the walker's checks and reads in words, in Spanish."""
    page, base = browser_page, live_app
    _fill_audit_log(page, base, session)
    failures = [f"{path} [{check}] {detail}" for path in ("/admin/authorities", "/admin/audit")
                for check, detail in _check(page, base, path)]
    assert not failures, "\n".join(failures)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/admin/authorities")
    text = " ".join(page.evaluate(VISIBLE_TEXT_JS).split())
    assert "autoridad regional de salud" in text and "robo o pérdida" in text
    assert "desactivado por admin" in text and "disabled by" not in text
    page.goto(f"{base}/admin/audit")
    text = " ".join(page.evaluate(VISIBLE_TEXT_JS).split())
    assert CODE.findall(text) == []
    assert [w for w in AUDIT_RAW if w in text] == []
    assert [w for w in AUDIT_SAID if w not in text] == []
    assert page.locator("td[title='admin.token_create']").count() == 1  # the code on hover
    page.goto(f"{base}/admin/audit?lang=en")
    text = " ".join(page.evaluate(VISIBLE_TEXT_JS).split())
    assert CODE.findall(text) == [] and "dry run (nothing saved)" in text
    assert "API token no." in text and "inspected, negative" in text


def test_walker_catches_each_kind_of_problem(browser_page):
    """The checks themselves, on a page made to break each rule (so a clean walk means clean)."""
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.set_content(
        "<html><body><p>Evidencia: net_inflow_z y <code>ok_inside_code</code></p>"
        '<svg viewBox="0 0 100 50" width="100"><text x="90" y="20">,374,848</text></svg>'
        '<div style="height:5000px"></div><div style="width:900px">ancho</div></body></html>')
    codes = set(CODE.findall(page.evaluate(VISIBLE_TEXT_JS)))
    assert codes == {"net_inflow_z"}
    assert page.evaluate(CLIPPED_JS) == [",374,848"]
    assert page.evaluate("document.scrollingElement.scrollHeight") > MAX_HEIGHT
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.scrollingElement.scrollWidth > window.innerWidth")
