"""Fixtures of the web tests: the sample world, demo users, an app with a frozen clock, logins.

Import the fixtures into a test module with ``from tests.web_support import *``.
"""

from __future__ import annotations

import warnings

import pytest
from argon2 import PasswordHasher

PASSWORD = "demo-password-123"
warnings.filterwarnings("ignore", message=".*httpx2.*")


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch):
    """Cheap argon2 parameters in tests only (production keeps argon2-cffi's defaults)."""
    from centinela.accounts import service

    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                           parallelism=1))


@pytest.fixture
def world(session, now) -> dict[str, str]:
    """The sample Lima/Piura world and one demo user per role (password ``PASSWORD``)."""
    from centinela.accounts.demo import seed_demo_users
    from centinela.web.views.geo import clear_cache
    from tests.sample import seed_sample

    clear_cache()
    ids = seed_sample(session, now)
    seed_demo_users(session, password=PASSWORD)
    session.commit()
    return ids


@pytest.fixture
def app(engine, now):
    """The real app on this test's database, its clock frozen at ``now``."""
    from centinela.web.app import create_app

    application = create_app(engine)
    application.state.clock = lambda: now
    return application


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


@pytest.fixture
def as_user(app, world):
    """Factory: ``as_user("lima")`` → a signed-in client."""
    return lambda username: login(app, username)


__all__ = ["PASSWORD", "app", "as_user", "fast_argon2", "login", "world"]
