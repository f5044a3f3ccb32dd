"""The map: one number per region (map == profile), drill-down to provinces and districts,
layers; and the conventions of issue 14 (JSON twin, /docs, badge contrast, number format)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tests.web_support import *  # noqa: F403
from tests.web_support import login

HTML = {"accept": "text/html"}
JSON = {"accept": "application/json"}


def _profile_rate(client, code: str) -> float:
    prof = client.get(f"/api/v1/profiles/region/{code}").json()
    fact = next(f["value"] for f in prof["facts"] if f["key"] == "profile.fentanyl_mg_per_100k")
    return float(fact.replace(",", ""))


def _add_edge_movement(session, now):
    """A dispense 364 days 23 hours ago: inside the 365-day window, outside the 12 monthly
    buckets (Jan-Dec) that the profile used to sum (the cause of 1,368.97 vs 1,253.21)."""
    from centinela.ledger.records import Movement

    session.add(Movement(event_id="EDGE-1", event_type="dispense",
                         occurred_at=now - dt.timedelta(days=364, hours=23), establishment_id="EST-PIU-F1",
                         product_code="FEN-PATCH", quantity=10, content_hash="e" * 32))
    session.commit()


@pytest.mark.parametrize("code", ["15", "20"])  # Lima and a small region (Piura)
def test_map_and_profile_show_the_same_rate(app, world, session, now, code):
    from centinela.web.views.common import clear_cache
    from centinela.web.views.usage import region_use

    _add_edge_movement(session, now)
    clear_cache()
    client = login(app, "analista")
    regions = {r["code"]: r for r in client.get("/api/v1/map").json()["regions"]}
    on_map = regions[code]["mg_per_100k"]
    assert on_map and on_map > 0
    assert round(on_map, 2) == _profile_rate(client, code)
    use = region_use(session, code, now)
    assert round(use.per_100k, 3) == on_map
    # The drill-down page states the parent's figure, the same again.
    ctx = client.get(f"/api/v1/map?region={code}").json()
    assert ctx["parent_mg_per_100k"] == on_map
    page = client.get(f"/map?region={code}", headers=HTML).text
    from centinela.web.fmt import format_decimal
    assert format_decimal(on_map, "es") in page


def test_drill_down_department_province_district(app, world, session, now):
    client = login(app, "analista")
    top = client.get("/api/v1/map").json()
    assert top["level"] == "department" and len(top["regions"]) == 25
    lima = client.get("/api/v1/map?region=15").json()
    assert lima["level"] == "province" and {r["code"][:2] for r in lima["regions"]} == {"15"}
    assert len(lima["regions"]) == 10 and [c["code"] for c in lima["crumbs"]] == ["", "15"]
    # Provinces add up to the department: the same function at every level.
    mg = sum(r["fentanyl_mg_12m"] for r in lima["regions"])
    dep = next(r for r in top["regions"] if r["code"] == "15")
    assert mg == pytest.approx(dep["fentanyl_mg_12m"], rel=1e-9)
    prov = client.get("/api/v1/map?region=1501").json()
    assert prov["level"] == "district" and len(prov["regions"]) >= 40
    cercado = next(r for r in prov["regions"] if r["code"] == "150101")
    assert cercado["fentanyl_mg_12m"] == pytest.approx(dep["fentanyl_mg_12m"])
    assert cercado["drill"] is False
    page = client.get("/map?region=1501", headers=HTML).text
    assert page.count('<path d="') >= 40 and 'href="/map?region=15&amp;layer=rate"' in page
    # Light pages: the district map of Lima stays small.
    assert len(page.encode()) < 150_000
    assert client.get("/api/v1/map?region=99").status_code == 404
    assert client.get("/api/v1/map?region=15x").status_code == 404


def test_regional_analyst_cannot_drill_outside(app, world):
    piura = login(app, "piura")
    assert piura.get("/api/v1/map?region=20").status_code == 200
    assert piura.get("/api/v1/map?region=15").status_code == 404
    assert piura.get("/api/v1/map?region=1501").status_code == 404


def test_layers_seizures_reports_alerts(app, world, session, now):
    from centinela.ledger.records import Seizure
    from centinela.public.models import CitizenReport

    session.add(Seizure(seizure_id="SZ-1", occurred_at=now - dt.timedelta(days=20),
                        ubigeo="200104", agency="PNP", content_hash="s" * 32))
    session.add(Seizure(seizure_id="SZ-OLD", occurred_at=now - dt.timedelta(days=400),
                        ubigeo="200104", agency="PNP", content_hash="t" * 32))
    session.add(CitizenReport(report_id="R-1", code_hash="c" * 64, channel="web", kind="sale",
                              ubigeo="150132", department="15", text="", status="received",
                              created_at=now - dt.timedelta(days=3),
                              updated_at=now - dt.timedelta(days=3)))
    session.commit()
    client = login(app, "analista")
    deps = {r["code"]: r for r in client.get("/api/v1/map?layer=seizures").json()["regions"]}
    assert deps["20"]["seizures"] == 1 and deps["20"]["value"] == 1 and deps["20"]["shade"] > 0
    assert deps["15"]["reports"] == 1 and deps["15"]["seizures"] == 0
    dist = {r["code"]: r for r in client.get("/api/v1/map?region=2001&layer=seizures")
            .json()["regions"]}
    assert dist["200104"]["seizures"] == 1
    alerts = client.get("/api/v1/map?layer=alerts").json()
    by = {r["code"]: r for r in alerts["regions"]}
    assert by["20"]["value"] == by["20"]["open_alerts"] > 0
    page = client.get("/map?layer=reports", headers=HTML).text
    assert "Denuncias ciudadanas" in page and "denuncias ciudadanas" in page
    assert 'aria-current="page">Denuncias ciudadanas' in page


def test_json_twin_of_pages(app, world):
    client = login(app, "analista")
    twin = client.get("/map", headers=JSON)
    assert twin.status_code == 200 and twin.headers["content-type"].startswith("application/json")
    data = twin.json()
    assert data["ctx"]["level"] == "department" and "map_svg" not in data
    assert len(data["ctx"]["regions"]) == 25
    for path in ("/alerts", "/profiles/region/15", "/imports"):
        r = client.get(path, headers=JSON)
        assert r.status_code == 200, path
        assert isinstance(r.json(), dict) and r.json(), path
    # A browser's Accept (HTML first) still gets the page.
    html = client.get("/map", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert html.headers["content-type"].startswith("text/html")
    # An ORM row in a page's context never leaks (e.g. password hashes in the admin page).
    admin = login(app, "admin").get("/admin", headers=JSON)
    assert admin.status_code == 200 and "argon2" not in admin.text


def test_docs_reach_the_api_documentation(app, world):
    client = login(app, None)
    r = client.get("/docs", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/api/docs"
    assert "/api/v1/alerts" in client.get("/docs").text  # the reference, served here


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    chans = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in chans]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_badge_contrast_meets_wcag_aa():
    css = (Path(__file__).parents[1] / "src/centinela/web/static/centinela.css").read_text()
    text = re.search(r"\.sev\{[^}]*color:(#[0-9a-fA-F]{3,6})", css).group(1)
    badges = dict(re.findall(r"\.sev-(\w+)\{background:(#[0-9a-fA-F]{3,6})\}", css))
    assert set(badges) >= {"low", "medium", "high", "critical"}
    for name, bg in badges.items():
        assert contrast(text, bg) >= 4.5, f"sev-{name}: {contrast(text, bg):.2f}:1"
    assert contrast("#ffffff", "#b07d00") < 4.5  # the old "media" colour (3.6:1)


def test_number_and_date_formatting():
    from centinela.web.fmt import format_date, format_datetime, format_decimal, format_mg

    assert format_decimal(1368.966, "es") == "1\u00a0368,97"
    assert format_decimal(1368.966, "en") == "1,368.97"
    assert format_mg(1333.5, "es") == "1\u00a0333,5\u00a0mg"
    # Stored naive UTC → Lima (UTC-5), no offset shown.
    assert format_datetime(dt.datetime(2026, 12, 5, 3, 4), "es") == "4 dic 2026, 22:04"
    assert format_datetime("2026-12-05T10:00:00-05:00", "en") == "Dec 5, 2026, 10:00"
    assert format_date("2026-09-01", "es") == "1 set 2026"


def test_region_profile_page_writes_the_map_figure(app, world):
    from centinela.web.fmt import format_decimal

    client = login(app, "analista")
    regions = {r["code"]: r for r in client.get("/api/v1/map").json()["regions"]}
    for code in ("15", "20"):
        figure = format_decimal(regions[code]["mg_per_100k"], "es")
        assert figure in client.get(f"/profiles/region/{code}", headers=HTML).text
        assert figure in client.get("/map", headers=HTML).text


def test_import_detail_names_each_file(app, world):
    client = login(app, "analista")
    body = ("event_id,event_type,occurred_at,establishment_id,product_code,quantity,"
            "counterparty_id\nFN-1,receipt,2025-12-01T10:00:00-05:00,EST-LIM-H1,FEN-AMP,10,"
            "EST-DIST\n")
    r = client.post("/imports", files={"files": ("movements.csv", body, "text/csv")},
                    headers=HTML, follow_redirects=True)
    assert r.status_code == 200
    cell = re.search(r'<td class="file-name">([^<]*)</td>', r.text)
    assert cell and "movements.csv" in cell.group(1)


def test_error_page_in_the_users_language_with_a_way_back(app, world):
    client = login(app, "analista")
    back = "http://testserver/map"
    es = client.get("/map?region=99", headers={**HTML, "referer": back})
    assert es.status_code == 404 and "No encontrado o fuera de su ámbito" in es.text
    assert 'id="error-back"' in es.text and f'href="{back}"' in es.text
    en = client.get("/map?region=99&lang=en", headers={**HTML, "referer": "https://evil.example/"})
    assert "Not found or outside your reach" in en.text and 'id="error-back"' not in en.text
