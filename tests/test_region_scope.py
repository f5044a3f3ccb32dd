"""Every state-changing route, walked as a regional analyst of another region (issue 11.4)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from centinela.audit import AuditEntry
from centinela.ews.models import Bulletin
from tests.web_support import login

# Routes anyone may call (public channels, signing in and out): no region is involved.
OPEN = {
    "/login", "/logout",
    "/reportar", "/reportar/seguimiento", "/reportar/seguimiento/info", "/api/v1/reports",
    "/api/v1/reports/status/{code}/info", "/api/v1/reports/sms/{secret}",
    "/api/v1/assistant/ask", "/asistente/mensaje", "/api/v1/assistant/telegram/{secret}",
    # Stateless classification of a structure or a signal list: computes, stores nothing.
    "/api/v1/ews/classify", "/api/v1/ews/tier",
    # A user's own saved inbox filter (a name and a query string): no region's data.
    "/saved-filters",
}
REFUSED = {401, 403, 404, 405, 409, 422}


def post_routes(app) -> list[str]:
    """Every POST path of the app, through included routers."""
    out: list[str] = []

    def walk(router) -> None:
        for r in router.routes:
            if hasattr(r, "original_router"):
                walk(r.original_router)
            elif "POST" in (getattr(r, "methods", None) or set()):
                out.append(r.path)

    walk(app.router)
    return sorted(set(out))


class _Ids(dict):
    """Path parameters: the known ids above, ``1`` for any other (every POST route counts)."""

    def __missing__(self, key: str) -> str:
        return "1"


@pytest.fixture
def lima_report(session, now):
    from centinela.public.intake import ReportInput, submit

    report, _ = submit(session, ReportInput(kind="fentanyl_no_rx", ubigeo="150101",
                                            text="venden ampollas sin receta en el mercado"),
                       channel="api", now=now)
    session.commit()
    return report.report_id


def test_every_post_route_refuses_a_regional_analyst_of_another_region(app, world, session,
                                                                       lima_report):
    piura = login(app, "piura")  # regional analyst of department 20 only
    ids = {"alert_id": world["prescriber_volume"], "user_id": "1", "token_id": "1",
           "request_id": "1", "channel_id": "1", "report_id": lima_report, "lead_id": "1",
           "code": "AAAA-BBBB-CCCC-DDDD-EEEE", "secret": "x"}
    body = {"action": "note", "note": "x", "status": "closed", "department": "15",
            "substance": "fentanyl", "alert_ids": [world["prescriber_volume"]], "days": 30}
    routes = post_routes(app)
    assert len(routes) >= 40, routes
    leaks = []
    for path in routes:
        if path in OPEN:
            continue
        url = path.format_map(_Ids(ids))
        for r in (piura.post(url, json=body), piura.post(url, data={
                **{k: v for k, v in body.items() if k != "alert_ids"},
                "alert_id": world["prescriber_volume"]}, follow_redirects=False)):
            if r.status_code not in REFUSED:
                leaks.append(f"POST {url} -> {r.status_code}")
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("form", [{}, {"department": "15"}, {"substance": "fentanyl"},
                                  {"department": "20", "alert_id": "PLACEHOLDER"}])
def test_regional_analyst_cannot_issue_a_bulletin_for_other_departments(app, world, session,
                                                                        form):
    form = {k: (world["prescriber_volume"] if v == "PLACEHOLDER" else v) for k, v in form.items()}
    piura = login(app, "piura")
    r = piura.post("/ews/bulletins", data=form, follow_redirects=False)
    assert r.status_code == 403
    api = piura.post("/api/v1/ews/bulletins", json={k.replace("alert_id", "alert_ids"):
                                                    ([v] if k == "alert_id" else v)
                                                    for k, v in form.items()})
    assert api.status_code in (403, 422)
    assert session.scalars(select(Bulletin)).all() == []


def test_bulletin_for_own_department_is_issued_and_audited(app, world, session):
    piura = login(app, "piura")
    r = piura.post("/ews/bulletins", data={"department": "20", "alert_id": world["stock_gap"]},
                   follow_redirects=False)
    assert r.status_code == 303
    b = session.scalars(select(Bulletin)).one()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "ews.bulletin.issue")).one()
    assert entry.actor == "piura" and entry.subject == b.number
