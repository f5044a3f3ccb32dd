"""Shared fixtures: a real, fresh database per test (SQLite file, or PostgreSQL when
``CENTINELA_TEST_DATABASE_URL`` is set), frozen time, and the settings cache reset; for the web
tests, the sample world (``tests/sample.py``), demo users, the app with a frozen clock and
signed-in clients (helpers ``login`` and ``PASSWORD`` in ``tests/web_support.py``).

PostgreSQL: each xdist worker gets its own schema; tables are truncated between tests.
SQLite: the migrated schema is built once per worker and copied into each test's folder.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from centinela.config import get_settings
from centinela.db import Base, create_schema, make_engine, normalize_url
from centinela.web.report_words import register as _register_report_words
from centinela.wiring import install
from tests.web_support import PASSWORD, login

PG_URL = os.environ.get("CENTINELA_TEST_DATABASE_URL", "")
# Module- and session-scoped fixtures (generated worlds) build settings before the per-test
# fixture below runs: the test environment, the only one that accepts a known key, holds for
# the whole run.
os.environ["CENTINELA_ENVIRONMENT"] = "test"
FROZEN_NOW = dt.datetime(2025, 12, 31, 12, 0, 0)
install()  # the application start: upper layers register into ingest and the detector registry


_register_report_words()  # as the app and the command line do at start


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch, tmp_path):
    """Every test starts from default settings, run from its own temp folder."""
    monkeypatch.setenv("CENTINELA_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    monkeypatch.setenv("CENTINELA_ENVIRONMENT", "test")  # the only place a known key is accepted
    monkeypatch.setenv("CENTINELA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory):
    """Build the schema once per worker: a SQLite template file, or a PostgreSQL schema."""
    if PG_URL:
        schema = f"t_{_worker()}_{os.getpid()}"
        admin = create_engine(normalize_url(PG_URL))
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        sep = "&" if "?" in PG_URL else "?"
        url = f"{normalize_url(PG_URL)}{sep}options=-csearch_path%3D{schema}"
        eng = make_engine(url)
        create_schema(eng)
        eng.dispose()
        yield url
        admin = create_engine(normalize_url(PG_URL))
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            for extra in ("parts", "archive"):  # partitions of movements (0012_partitions)
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}_{extra}" CASCADE'))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    create_schema(eng)
    eng.dispose()
    yield str(path)


@pytest.fixture
def db_url(_template_db, tmp_path, monkeypatch) -> str:
    """URL of a fresh, migrated database for this test (also set as CENTINELA_DATABASE_URL)."""
    if PG_URL:
        url = _template_db
        eng = make_engine(url)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with eng.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            # Every test starts with the audit log's append-only guard on (a tampering test
            # turns it off, as an attacker with database rights would).
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        eng.dispose()
    else:
        target = tmp_path / "centinela.db"
        shutil.copy(_template_db, target)
        url = f"sqlite:///{target}"
    monkeypatch.setenv("CENTINELA_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def engine(db_url):
    """An engine on this test's fresh database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    """A session on this test's fresh database (tests commit as the app would)."""
    from centinela.db import session_factory

    s = session_factory(engine)()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def now() -> dt.datetime:
    """The frozen 'now' of detection tests (naive UTC)."""
    return FROZEN_NOW


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """An empty folder for generated or hand-written input files."""
    d = tmp_path / "in"
    d.mkdir()
    return d


@pytest.fixture
def live_app(engine):
    """Serve the real app on a free loopback port in a thread; yield its base URL."""
    from centinela.web.app import create_app
    from tests.live import serve_in_thread

    with serve_in_thread(create_app(engine)) as base_url:
        yield base_url


@pytest.fixture
def browser_page(live_app):
    """A Playwright page in Debian's headless Chromium (skips when it is not installed)."""
    from tests.live import chromium_page

    with chromium_page() as page:
        yield page


# ---------------------------------------------------------------- web


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


@pytest.fixture
def as_user(app, world):
    """Factory: ``as_user("lima")`` → a signed-in client."""
    return lambda username: login(app, username)
