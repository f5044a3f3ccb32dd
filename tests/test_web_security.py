"""Sessions, CSRF, rate limiting, API tokens and secure headers."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from centinela.accounts.models import LoginAttempt, User
from centinela.accounts.service import set_password
from centinela.accounts.tokens import create_token
from tests.web_support import PASSWORD, login


def test_session_cookie_is_signed_httponly_samesite(app, world):
    client = TestClient(app)
    client.get("/login")
    token = client.cookies.get("centinela_csrf")
    r = client.post("/login", data={"username": "analista", "password": PASSWORD,
                                    "csrf_token": token}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "centinela_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/api/v1/me").json()["role"] == "national_analyst"
    client.cookies.set("centinela_session", client.cookies.get("centinela_session")[:-3] + "xyz")
    assert client.get("/api/v1/me").status_code == 401


def test_form_posts_without_the_csrf_token_are_refused(app, world):
    client = TestClient(app)
    client.get("/login")
    r = client.post("/login", data={"username": "analista", "password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = client.post("/login", data={"username": "analista", "password": PASSWORD,
                                    "csrf_token": "forged" * 7 + "x"})
    assert r.status_code == 403
    signed_in = login(app, "analista")
    alert = world["lot_anomaly"]
    del signed_in.headers["X-CSRF-Token"]
    r = signed_in.post(f"/alerts/{alert}/actions", data={"action": "triage"})
    assert r.status_code == 403
    r = signed_in.post(f"/api/v1/alerts/{alert}/actions", json={"action": "triage"})
    assert r.status_code == 403  # a session cookie needs the header even for JSON
    r = signed_in.post(f"/alerts/{alert}/actions", data={
        "action": "triage", "csrf_token": signed_in.cookies.get("centinela_csrf")},
        follow_redirects=False)
    assert r.status_code == 303


def test_multipart_upload_carries_the_csrf_field(app, world):
    client = login(app, "analista")
    token = client.headers.pop("X-CSRF-Token")
    files = {"files": ("movements.csv", b"event_id\n", "text/csv")}
    assert client.post("/imports", files=files).status_code == 403
    r = client.post("/imports", data={"csrf_token": token}, files=files,
                    follow_redirects=False)
    assert r.status_code in (303, 400)  # past the CSRF check; the intake judges the file


def test_login_is_rate_limited_per_username_and_stores_no_ip(app, world, session):
    client = login(app, None)
    for _ in range(5):
        r = client.post("/login", data={"username": "lima", "password": "wrong-password"})
        assert r.status_code == 401
    r = client.post("/login", data={"username": "lima", "password": PASSWORD})
    assert r.status_code == 429  # even the right password waits now
    other = client.post("/login", data={"username": "piura", "password": PASSWORD},
                        follow_redirects=False)
    assert other.status_code == 303
    keys = [a.key for a in session.scalars(select(LoginAttempt))]
    assert keys and not any("testclient" in k or "lima" in k for k in keys)


def test_login_is_rate_limited_per_client(app, world):
    client = login(app, None)
    for i in range(20):
        client.post("/login", data={"username": f"nobody{i}", "password": "x" * 12})
    r = client.post("/login", data={"username": "analista", "password": PASSWORD})
    assert r.status_code == 429


def test_password_change_ends_sessions(app, world, session):
    client = login(app, "analista")
    assert client.get("/api/v1/me").status_code == 200
    user = session.scalar(select(User).where(User.username == "analista"))
    set_password(session, user, "another-password-456")
    session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_open_redirect_after_login_is_refused(app, world):
    client = login(app, None)
    r = client.post("/login", data={"username": "analista", "password": PASSWORD,
                                    "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_secure_headers_on_pages_and_api(app, world):
    client = login(app, "analista")
    for path in ("/alerts", "/api/v1/alerts", "/login", "/healthz"):
        h = client.get(path).headers
        assert h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
        assert h["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/static/centinela.css").headers


def test_api_tokens_are_scoped_hashed_and_revocable(app, world, session, now):
    from centinela.accounts.models import ApiToken
    from centinela.accounts.tokens import revoke_token

    owner = session.scalar(select(User).where(User.username == "analista"))
    plain, row = create_token(session, owner, "tablero", ["alerts:read"], now=now)
    session.commit()
    assert plain not in str(session.scalar(select(ApiToken.token_hash)))
    client = TestClient(app)
    auth = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/alerts", headers=auth).status_code == 200
    # Scope alerts:read does not open the map, profiles, or any page.
    assert client.get("/api/v1/map", headers=auth).status_code == 403
    assert client.get("/api/v1/alerts/x/../../map", headers=auth).status_code in (403, 404)
    assert client.post("/api/v1/alerts/" + world["lot_anomaly"] + "/actions", headers=auth,
                       json={"action": "triage"}).status_code == 403
    assert client.get("/api/v1/alerts", headers={"Authorization": "Bearer cnt_nope"}
                      ).status_code == 401
    revoke_token(session, row.id, now=now)
    session.commit()
    assert client.get("/api/v1/alerts", headers=auth).status_code == 401
    expired, _ = create_token(session, owner, "viejo", ["alerts:read"], days=1,
                              now=now - dt.timedelta(days=2))
    session.commit()
    assert client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {expired}"}
                      ).status_code == 401


def test_ingest_token_reaches_only_the_intake_api(app, world, session, now):
    owner = session.scalar(select(User).where(User.username == "sistema"))
    plain, _ = create_token(session, owner, "his", ["ingest"], now=now)
    session.commit()
    client = TestClient(app)
    auth = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/alerts", headers=auth).status_code == 403
    # No CSRF needed for bearer calls; the intake route (when mounted) decides the rest.
    r = client.post("/api/v1/movements", headers=auth, json={"records": []})
    assert r.status_code not in (401, 403)


def test_validation_errors_never_echo_the_document(app, world):
    client = login(app, "medico")
    r = client.post("/api/v1/lookup", json={"document_type": "DNI",
                                            "document_number": "4455-6677!", "reason": "x",
                                            "attest": True})
    assert r.status_code == 422 and "4455-6677" not in r.text
    r = client.post("/lookup", data={"document_type": "DNI", "document_number": "4455-6677!",
                                     "reason": "dispensing", "attest": "on"})
    assert r.status_code == 422 and "4455-6677" not in r.text
