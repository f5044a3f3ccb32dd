"""Sessions end on the server at logout, password change and disable; weak passwords are
refused (issue 11.7)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from centinela.accounts import service
from centinela.accounts.models import User, WebSession
from tests.web_support import login


def _copy_of(client: TestClient, app) -> TestClient:
    """A second browser holding a copy of the session cookie (e.g. stolen or another tab)."""
    thief = TestClient(app)
    thief.cookies.set("centinela_session", client.cookies.get("centinela_session"))
    return thief


def test_logout_ends_the_session_for_every_copy_of_the_cookie(app, world, session):
    client = login(app, "admin")
    thief = _copy_of(client, app)
    assert thief.get("/api/v1/me").status_code == 200
    assert thief.get("/admin").status_code == 200
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 303
    assert thief.get("/api/v1/me").status_code == 401
    assert thief.get("/admin", follow_redirects=False).status_code in (303, 401)
    row = session.scalars(select(WebSession)).one()
    assert row.revoked_at is not None and row.revoked_reason == "logout"
    # The cookie stores a random token; the table only its hash.
    assert session.scalar(select(WebSession.token_hash)) not in client.cookies.get(
        "centinela_session", "") + thief.cookies.get("centinela_session", "")


def test_admin_disable_ends_the_users_sessions_at_once(app, world, session):
    victim = login(app, "analista")
    assert victim.get("/api/v1/me").status_code == 200
    admin = login(app, "admin")
    uid = session.scalar(select(User.id).where(User.username == "analista"))
    r = admin.post(f"/admin/users/{uid}", data={"role": "national_analyst"},
                   follow_redirects=False)
    assert r.status_code == 303
    assert victim.get("/api/v1/me").status_code == 401
    rows = session.scalars(select(WebSession).where(WebSession.user_id == uid)).all()
    assert rows and all(r.revoked_reason == "disabled by admin" for r in rows)


def test_password_change_revokes_server_side_sessions(app, world, session):
    client = login(app, "analista")
    user = session.scalar(select(User).where(User.username == "analista"))
    service.set_password(session, user, "otra-frase-larga-y-rara")
    session.commit()
    assert client.get("/api/v1/me").status_code == 401
    assert session.scalars(select(WebSession.revoked_reason)).all() == ["password changed"]


@pytest.mark.parametrize("weak", ["1234567890", "123456789012", "password1234", "Password1234",
                                  "aaaaaaaaaaaaaaaa", "corta", "ana.q-secreto-99"])
def test_weak_passwords_are_refused(session, now, weak):
    with pytest.raises(service.AccountError, match="password"):
        service.create_user(session, "ana.q", weak, "national_analyst", now=now)


def test_good_password_is_accepted(session, now):
    assert service.create_user(session, "ana.q", "tres-llamas-en-puno", "police", now=now).id


def test_cli_refuses_a_common_password(db_url, monkeypatch):
    from centinela.cli import app as cli

    monkeypatch.setenv("CENTINELA_NEW_PASSWORD", "1234567890")
    r = CliRunner().invoke(cli, ["users", "create", "ana", "--role", "police"])
    assert r.exit_code != 0 and "password" in r.output


def test_development_install_makes_its_own_pseudonym_key(monkeypatch, tmp_path, capsys):
    from centinela.config import DEV_SECRET, Settings, get_settings
    from centinela.privacy import pseudonymize

    monkeypatch.delenv("CENTINELA_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("CENTINELA_ENVIRONMENT", "development")
    first = Settings(data_dir=str(tmp_path))
    assert "pseudonym.key" in capsys.readouterr().err  # it says so
    assert len(first.pseudonym_key) >= 32 and first.pseudonym_key != DEV_SECRET
    assert (tmp_path / "pseudonym.key").read_text().strip() == first.pseudonym_key
    assert Settings(data_dir=str(tmp_path)).pseudonym_key == first.pseudonym_key  # kept
    other = tmp_path / "other"
    assert Settings(data_dir=str(other)).pseudonym_key != first.pseudonym_key  # per install
    get_settings.cache_clear()
    monkeypatch.setenv("CENTINELA_DATA_DIR", str(tmp_path))
    assert pseudonymize("DNI:12345678") == pseudonymize("DNI:12345678", key=first.pseudonym_key)


@pytest.mark.parametrize("env", ["development", "production"])
def test_a_publicly_known_pseudonym_key_is_refused_outside_tests(monkeypatch, tmp_path, env):
    from centinela.config import DEV_SECRET, TEST_PSEUDONYM_KEY, Settings

    monkeypatch.setenv("CENTINELA_ENVIRONMENT", env)
    for key in (DEV_SECRET, TEST_PSEUDONYM_KEY):
        with pytest.raises(ValueError, match="publicly known"):
            Settings(pseudonym_key=key, data_dir=str(tmp_path))


def test_a_key_file_holding_a_leaked_key_is_refused(monkeypatch, tmp_path):
    """A development key that leaked into the repository's history, read back from a
    ``pseudonym.key`` file (a clone made while it was committed), is refused with what to do."""
    import hashlib

    from centinela import config

    leaked = "a-development-key-that-was-committed-by-mistake-0123"
    monkeypatch.setattr(config, "LEAKED_KEY_DIGESTS",
                        frozenset({hashlib.sha256(leaked.encode()).hexdigest()}))
    monkeypatch.delenv("CENTINELA_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("CENTINELA_ENVIRONMENT", "development")
    (tmp_path / "pseudonym.key").write_text(leaked + "\n")
    with pytest.raises(ValueError, match="Delete that file"):
        config.Settings(data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="publicly known"):
        config.Settings(pseudonym_key=leaked, data_dir=str(tmp_path))
    (tmp_path / "pseudonym.key").unlink()  # deleted: a new random key is made
    assert config.Settings(data_dir=str(tmp_path)).pseudonym_key != leaked


def test_no_key_or_secret_file_is_tracked_by_git():
    """Keys live beside the data they protect, never in the repository (.gitignore says so;
    this catches a ``git add -A`` that picked one up)."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert files, "git ls-files listed nothing"
    bad = [f for f in files if Path(f).suffix in {".key", ".pem", ".p12", ".env"}
           or Path(f).name in {".env", "pseudonym.key", "audit.key", "secret.key"}]
    assert bad == []
