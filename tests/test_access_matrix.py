"""Access control as a matrix: role × endpoint × region, pages and JSON API alike."""

from __future__ import annotations

import pytest

from tests.web_support import login

ROLES = ("admin", "analista", "lima", "piura", "policia", "medico", "farmacia", "sistema", None)
LOOKUP = {"document_type": "DNI", "document_number": "44556677", "reason": "dispensing",
          "attest": True}

# endpoint → expected status per user; the ids come from the sample world.
# lima/piura are regional analysts of departments 15 and 20; the sample's alerts:
# prescriber_volume (15), stock_gap (20), mme_high (patient, 15), lot_anomaly (15), region_rise (20)
MATRIX: list[tuple[str, str, dict]] = [
    ("GET", "/api/v1/alerts", dict(admin=200, analista=200, lima=200, piura=200, policia=200,
                                   medico=403, farmacia=403, sistema=403)),
    ("GET", "/api/v1/alerts/{prescriber_volume}", dict(admin=200, analista=200, lima=200,
                                                       piura=404, policia=200, medico=403,
                                                       farmacia=403, sistema=403)),
    ("GET", "/api/v1/alerts/{stock_gap}", dict(admin=200, analista=200, lima=404, piura=200,
                                               policia=200, medico=403, farmacia=403,
                                               sistema=403)),
    ("GET", "/api/v1/alerts/{mme_high}", dict(admin=200, analista=200, lima=200, piura=404,
                                              policia=404, medico=403, farmacia=403,
                                              sistema=403)),
    ("GET", "/api/v1/map", dict(admin=200, analista=200, lima=200, piura=200, policia=200,
                                medico=403, farmacia=403, sistema=403)),
    ("GET", "/api/v1/profiles/professional/CMP-000001", dict(
        admin=200, analista=200, lima=200, piura=404, policia=200, medico=403, farmacia=403,
        sistema=403)),
    ("GET", "/api/v1/profiles/establishment/EST-PIU-F1", dict(
        admin=200, analista=200, lima=404, piura=200, policia=200, medico=403, farmacia=403,
        sistema=403)),
    ("GET", "/api/v1/profiles/region/20", dict(admin=200, analista=200, lima=404, piura=200,
                                               policia=200, medico=403, farmacia=403,
                                               sistema=403)),
    ("GET", "/api/v1/profiles/lot/L2025A", dict(admin=200, analista=200, lima=200, piura=404,
                                                policia=200, medico=403, farmacia=403,
                                                sistema=403)),
    ("GET", "/api/v1/profiles/patient/{patient_lima}", dict(
        admin=200, analista=200, lima=200, piura=404, policia=404, medico=403, farmacia=403,
        sistema=403)),
    ("GET", "/api/v1/import-runs", dict(admin=200, analista=200, lima=403, piura=403,
                                        policia=403, medico=403, farmacia=403, sistema=403)),
    ("POST", "/api/v1/lookup", dict(admin=200, analista=403, lima=403, piura=403, policia=403,
                                    medico=200, farmacia=200, sistema=403)),
    ("GET", "/api/v1/access-requests", dict(admin=200, analista=403, lima=403, piura=403,
                                            policia=200, medico=403, farmacia=403,
                                            sistema=403)),
    ("GET", "/api/v1/admin/users", dict(admin=200, analista=403, lima=403, piura=403,
                                        policia=403, medico=403, farmacia=403, sistema=403)),
    ("GET", "/api/v1/admin/audit", dict(admin=200, analista=403, lima=403, piura=403,
                                        policia=403, medico=403, farmacia=403, sistema=403)),
    ("POST", "/api/v1/alerts/{lot_anomaly}/actions", dict(
        admin=200, analista=200, lima=200, piura=404, policia=403, medico=403, farmacia=403,
        sistema=403)),
    # The analyst's workspace (issue 14): exports, saved filters, cases, evidence downloads.
    ("GET", "/alerts.json", dict(admin=200, analista=200, lima=200, piura=200, policia=200,
                                 medico=403, farmacia=403, sistema=403)),
    ("GET", "/api/v1/saved-filters", dict(admin=200, analista=200, lima=200, piura=200,
                                          policia=200, medico=403, farmacia=403, sistema=403)),
    ("GET", "/api/v1/cases", dict(admin=200, analista=200, lima=200, piura=200, policia=403,
                                  medico=403, farmacia=403, sistema=403)),
    ("GET", "/alerts/{prescriber_volume}/movements.csv", dict(
        admin=200, analista=200, lima=200, piura=404, policia=200, medico=403, farmacia=403,
        sistema=403)),
    ("GET", "/alerts/{mme_high}/movements.csv", dict(
        admin=200, analista=200, lima=200, piura=404, policia=404, medico=403, farmacia=403,
        sistema=403)),
    ("GET", "/profiles/lot/L2025A/movements.csv", dict(
        admin=200, analista=200, lima=200, piura=404, policia=200, medico=403, farmacia=403,
        sistema=403)),
]


@pytest.mark.parametrize("username", ROLES, ids=lambda u: u or "anonymous")
def test_role_matrix_on_api(app, world, username):
    client = login(app, username)
    failures = []
    for method, path, expected in MATRIX:
        url = path.format(**world)
        if method == "GET":
            r = client.get(url)
        elif "lookup" in url:
            r = client.post(url, json=LOOKUP)
        else:
            r = client.post(url, json={"action": "note", "note": "revisado"})
        want = expected.get(username, 401) if username else 401
        if r.status_code != want:
            failures.append(f"{method} {url}: {r.status_code} != {want}")
    assert not failures, "\n".join(failures)


PAGES = ["/alerts", "/map", "/profiles", "/imports", "/lookup", "/access", "/admin",
         "/admin/audit"]
PAGE_ACCESS = {
    "admin": set(PAGES),
    "analista": {"/alerts", "/map", "/profiles", "/imports"},
    "lima": {"/alerts", "/map", "/profiles"},
    "policia": {"/alerts", "/map", "/profiles", "/access"},
    "medico": {"/lookup"},
    "farmacia": {"/lookup"},
}


@pytest.mark.parametrize("username", sorted(PAGE_ACCESS))
def test_role_matrix_on_pages_and_menu(app, world, username):
    client = login(app, username)
    html = {"accept": "text/html"}
    for page in PAGES:
        r = client.get(page, headers=html)
        allowed = page in PAGE_ACCESS[username]
        assert r.status_code == (200 if allowed else 403), (page, r.status_code)
    menu = client.get("/access" if username in ("policia", "admin") else
                      next(iter(sorted(PAGE_ACCESS[username]))), headers=html).text
    nav = menu.split("<nav", 1)[1].split("</nav>", 1)[0]
    for page in ("/alerts", "/map", "/imports", "/lookup", "/admin"):
        assert (f'href="{page}"' in nav) == (page in PAGE_ACCESS[username]), page
    assert 'href="/reportar"' in nav  # public pages are linked for everyone


def test_signed_out_pages_redirect_to_login(app, world):
    client = login(app, None)
    r = client.get("/alerts?status=all", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/alerts%3Fstatus%3Dall"
    assert client.get("/api/v1/alerts").status_code == 401


def test_regional_inbox_and_map_are_limited_to_their_departments(as_user, world):
    lima = as_user("lima")
    rows = lima.get("/api/v1/alerts", params={"status": "all"}).json()["rows"]
    assert rows and {r["department"] for r in rows} == {"15"}
    assert [d["value"] for d in lima.get("/api/v1/alerts").json()["departments"]] == ["15"]
    regions = {r["code"]: r for r in lima.get("/api/v1/map").json()["regions"]}
    assert regions["15"]["visible"] and regions["15"]["mg_per_100k"] > 0
    assert not regions["20"]["visible"] and regions["20"]["mg_per_100k"] is None
    svg = lima.get("/map", headers={"accept": "text/html"}).text
    assert 'href="/profiles/region/15"' in svg and 'href="/profiles/region/20"' not in svg
    assert lima.get("/api/v1/profiles", params={"q": "EST-PIU"}).json()["hits"] == []


def test_police_see_patients_only_under_an_approved_unexpired_request(app, world, now):
    police, admin = login(app, "policia"), login(app, "admin")
    detail = police.get(f"/api/v1/alerts/{world['prescriber_volume']}").json()
    assert detail["patient_data_hidden"]
    assert world["patient_lima"] not in str(detail)
    assert all(r["subject_kind"] != "patient" for r in
               police.get("/api/v1/alerts", params={"status": "all"}).json()["rows"])
    r = police.post("/api/v1/access-requests", json={
        "case_number": "CF-2025-118", "reason": "Investigación por desvío de fentanilo",
        "document_type": "DNI", "document_number": "44556677"})
    assert r.status_code == 200 and r.json()["patient_id"] == world["patient_lima"]
    assert police.get(f"/api/v1/profiles/patient/{world['patient_lima']}").status_code == 404
    rid = r.json()["id"]
    decided = admin.post(f"/api/v1/admin/access-requests/{rid}/decision",
                         json={"approve": True, "days": 7, "note": "orden fiscal"})
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert police.get(f"/api/v1/profiles/patient/{world['patient_lima']}").status_code == 200
    assert police.get(f"/api/v1/alerts/{world['mme_high']}").status_code == 200
    # The grant is for that patient only, and it expires.
    assert police.get(f"/api/v1/profiles/patient/{world['patient_piura']}").status_code == 404
    import datetime as dt

    app.state.clock = lambda: now + dt.timedelta(days=8)
    assert police.get(f"/api/v1/profiles/patient/{world['patient_lima']}").status_code == 404


def test_a_pseudonym_pasted_with_its_prefix_is_the_same_patient(app, world):
    """Every page shows pseudonyms as 'PSN:…': pasted as shown into the request with type PSN
    (or a DNI typed as 'DNI:…'), it names the same patient instead of a 422."""
    police = login(app, "policia")
    r = police.post("/api/v1/access-requests", json={
        "case_number": "CF-2025-119", "reason": "Investigación por desvío de fentanilo",
        "document_type": "PSN", "document_number": world["patient_lima"]})
    assert r.status_code == 200 and r.json()["patient_id"] == world["patient_lima"]
    r = police.post("/api/v1/access-requests", json={
        "case_number": "CF-2025-120", "reason": "Investigación por desvío de fentanilo",
        "document_type": "DNI", "document_number": "DNI:44556677"})
    assert r.status_code == 200 and r.json()["patient_id"] == world["patient_lima"]
