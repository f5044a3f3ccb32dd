"""Helpers of the web tests (their fixtures — ``world``, ``app``, ``as_user`` — are in
``tests/conftest.py``): the demo users' password and a signed-in client."""

from __future__ import annotations

import warnings

PASSWORD = "demo-password-123"
warnings.filterwarnings("ignore", message=".*httpx2.*")


def login(application, username: str | None, password: str | None = None):
    """Return a TestClient signed in as ``username`` (None: anonymous) sending its CSRF token."""
    from fastapi.testclient import TestClient

    client = TestClient(application)
    client.get("/login")
    token = client.cookies.get("centinela_csrf")
    client.headers["X-CSRF-Token"] = token
    if username:
        r = client.post("/login", data={"username": username, "password": password or PASSWORD,
                                         "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303, r.text
        client.get("/healthz")  # signing in rotates the CSRF token
        client.headers["X-CSRF-Token"] = client.cookies.get("centinela_csrf")
        assert client.headers["X-CSRF-Token"] != token
    return client


def __getattr__(name: str):
    """Old imports of the web fixtures (``from tests.web_support import fast_argon2``, from branches
    written before they moved to ``tests/conftest.py``) still resolve; new tests need no import."""
    if name in ("fast_argon2", "world", "app", "as_user"):
        from tests import conftest

        return getattr(conftest, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
