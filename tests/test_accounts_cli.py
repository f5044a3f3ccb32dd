"""``centinela users create/list`` and ``centinela tokens create``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from centinela.cli import app


def test_users_and_tokens_from_the_command_line(db_url, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("CENTINELA_NEW_PASSWORD", "una-clave-larga")
    r = runner.invoke(app, ["users", "create", "diris.lima", "--role", "regional_analyst",
                            "--departments", "15,7"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "create", "his", "--role", "institution"])
    assert r.exit_code == 0
    bad = runner.invoke(app, ["users", "create", "xyz", "--role", "regional_analyst"])
    assert bad.exit_code == 2 and "departments" in bad.output
    listed = [json.loads(line) for line in
              runner.invoke(app, ["users", "list", "--json"]).output.splitlines()]
    assert {u["username"]: u["departments"] for u in listed}["diris.lima"] == ["07", "15"]
    tok = runner.invoke(app, ["tokens", "create", "his", "--scope", "ingest", "--scope",
                              "ews:classify"])
    assert tok.exit_code == 0 and tok.output.strip().startswith("cnt_")
    # A scope the owner's role cannot use is refused (every call would answer 403).
    wide = runner.invoke(app, ["tokens", "create", "his", "--scope", "alerts:read"])
    assert wide.exit_code == 2 and "alerts:read" in wide.output
    assert runner.invoke(app, ["tokens", "create", "nobody"]).exit_code == 2
    # Accounts and tokens made at the command line are on the audit record, as from the web.
    from sqlalchemy import create_engine, select

    from centinela.audit import AuditEntry

    with create_engine(db_url).connect() as conn:
        made = conn.execute(select(AuditEntry.action, AuditEntry.subject, AuditEntry.actor)
                            .where(AuditEntry.action.like("admin.%"))).all()
    assert {(a, s) for a, s, _ in made} == {("admin.user_create", "diris.lima"),
                                           ("admin.user_create", "his"),
                                           ("admin.token_create", "his")}
    assert all(actor.startswith("cli") for _a, _s, actor in made)


def test_serve_help_lists_its_options():
    out = CliRunner().invoke(app, ["serve", "--help"]).output
    assert "--no-scheduler" in out and "--port" in out


def test_a_college_number_not_in_the_registry_is_warned_about(db_url, monkeypatch, session):
    # The account is made (the registry may come later) but the operator is told, in both
    # languages, when the number is not registered or registered with another role.
    from centinela.registry.models import Professional

    session.add(Professional(professional_id="CMP-000777", role="prescriber",
                             full_name="Dra. Siete"))
    session.commit()
    runner = CliRunner()  # its output holds what the command wrote to stderr too
    monkeypatch.setenv("CENTINELA_NEW_PASSWORD", "una-clave-larga")
    ok = runner.invoke(app, ["users", "create", "dra.siete", "--role", "prescriber",
                             "--professional-id", "CMP-000777"])
    assert ok.exit_code == 0 and "aviso" not in ok.output
    typo = runner.invoke(app, ["users", "create", "dr.typo", "--role", "prescriber",
                               "--professional-id", "CMP-000778"])
    assert typo.exit_code == 0
    assert "CMP-000778 no está en el registro" in typo.output
    assert "not in the professionals registry" in typo.output
    other = runner.invoke(app, ["users", "create", "qf.siete", "--role", "pharmacist",
                                "--professional-id", "CMP-000777"])
    assert other.exit_code == 0 and "registered as prescriber, not pharmacist" in other.output
