"""``centinela serve``, ``centinela users …`` and ``centinela tokens …``."""

from __future__ import annotations

import getpass
import json
import logging

import typer

from centinela import audit

log = logging.getLogger("centinela.serve")


def start_scheduler(engine, interval_s: int) -> object | None:
    """Start the detection/dispatch scheduler (``centinela.jobs``)."""
    from centinela.jobs import start_background

    return start_background(engine, interval_s)


def serve_app(host: str = "127.0.0.1", port: int = 8000, scheduler: bool = True) -> None:
    """Migrate the database, start the scheduler (unless disabled) and run uvicorn."""
    import uvicorn

    from centinela.config import get_settings
    from centinela.db import create_schema, get_engine
    from centinela.web.app import create_app

    engine = get_engine()
    create_schema(engine)
    if scheduler:
        start_scheduler(engine, get_settings().detect_interval_s)
    from centinela.auditsign import start_background as start_checkpoints

    start_checkpoints(engine, get_settings().audit_checkpoint_interval_s)  # even without detection
    from centinela.partitions import start_maintenance

    start_maintenance(engine)  # PostgreSQL: monthly movements partitions created ahead
    # proxy_headers: behind a reverse proxy the client address (hashed for rate limits) is
    # taken from X-Forwarded-For only for the proxies uvicorn is told to trust.
    uvicorn.run(create_app(engine), host=host, port=port, proxy_headers=True,
                server_header=False)


app = typer.Typer()  # top-level commands, merged into the root by cli/__init__


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    no_scheduler: bool = typer.Option(False, "--no-scheduler",
                                      help="Do not run detection and dispatch in the background."),
) -> None:
    """Sirve la aplicación web / serve the web app (and run detection on a schedule)."""
    typer.echo(f"Centinela en / at http://{host}:{port}/")
    serve_app(host, port, scheduler=not no_scheduler)


users = typer.Typer(help="Usuarios / user accounts.", no_args_is_help=True)


@users.command("create")
def users_create(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., help="admin, national_analyst, regional_analyst, police, "
                             "prescriber, pharmacist or institution."),
    departments: str = typer.Option("", help="Comma-separated INEI department codes "
                                    "(regional analysts), e.g. 15,20."),
    professional_id: str = typer.Option("", help="College number (prescribers, pharmacists)."),
    full_name: str = typer.Option("", help="Display name."),
    password: str = typer.Option("", help="Password (asked for when omitted; or set "
                                 "CENTINELA_NEW_PASSWORD).", envvar="CENTINELA_NEW_PASSWORD"),
) -> None:
    """Crea un usuario / create a user."""
    from centinela.accounts.service import AccountError, create_user
    from centinela.db import create_schema, get_engine, session_scope

    if not password:
        password = getpass.getpass("Contraseña / password: ")
    engine = get_engine()
    create_schema(engine)
    try:
        with session_scope(engine) as session:
            user = create_user(session, username, password, role,
                               departments_=[d for d in departments.split(",") if d.strip()],
                               professional_id=professional_id or None, full_name=full_name)
            name, urole = user.username, user.role
            unregistered = _unregistered(session, user)
            # As the admin page does: who made an account is on the record (actor: the
            # command line's operating-system user).
            audit.record(session, _operator(), "admin.user_create", name,
                         details={"role": urole, "departments": user.departments or [],
                                  "via": "cli"})
    except AccountError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"usuario creado / user created: {name} ({urole})")
    if unregistered:
        typer.echo(f"aviso / warning: {unregistered}", err=True)


def _unregistered(session, user) -> str | None:
    """Why a prescriber's or pharmacist's college number deserves a second look, in words (the
    admin users table's rule, ``web.views.admin.registry_issues``), or None. The account is
    made anyway: the registry may be imported after the accounts."""
    from centinela.web.views.admin import registry_issues

    issue, pid = registry_issues(session, [user]).get(user.id), user.professional_id
    if issue == "unregistered":
        return (f"{pid} no está en el registro de profesionales; revise el número de "
                f"colegiatura / {pid} is not in the professionals registry; check the college "
                "number")
    if issue == "other_role":
        from centinela.registry.models import Professional

        role = session.get(Professional, pid).role
        return (f"{pid} está registrado como {role}, no como {user.role} / {pid} is "
                f"registered as {role}, not {user.role}")
    return None


@users.command("list")
def users_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Lista los usuarios / list users."""
    from sqlalchemy import select

    from centinela.accounts.models import User
    from centinela.db import create_schema, get_engine, session_scope

    engine = get_engine()
    create_schema(engine)
    with session_scope(engine) as session:
        rows = [{"username": u.username, "role": u.role, "departments": u.departments or [],
                 "professional_id": u.professional_id, "active": u.active}
                for u in session.scalars(select(User).order_by(User.username))]
    for r in rows:
        if as_json:
            typer.echo(json.dumps(r, ensure_ascii=False))
        else:
            scope = ",".join(r["departments"]) or r["professional_id"] or "-"
            state = "" if r["active"] else " (inactivo/inactive)"
            typer.echo(f"{r['username']:<20} {r['role']:<18} {scope}{state}")


tokens = typer.Typer(help="Tokens de API / API tokens.", no_args_is_help=True)


def _operator() -> str:
    """The audit actor of an account command: ``cli:<operating-system user>``."""
    import getpass as _gp

    try:
        return f"cli:{_gp.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no login name in a bare container
        return "cli"


@tokens.command("create")
def tokens_create(
    username: str = typer.Argument(..., help="Owner (usually an institution account)."),
    name: str = typer.Option("token", help="What the token is for."),
    scope: list[str] = typer.Option(["ingest"], "--scope", help="ingest, ews:classify "
                                    "(laboratories) or alerts:read (analysts and police); "
                                    "repeat for several."),
    days: int = typer.Option(365, help="Days until it expires."),
) -> None:
    """Crea un token (se muestra una sola vez) / create a token (shown once)."""
    from sqlalchemy import select

    from centinela.accounts.models import User
    from centinela.accounts.service import AccountError
    from centinela.accounts.tokens import create_token
    from centinela.db import create_schema, get_engine, session_scope

    engine = get_engine()
    create_schema(engine)
    try:
        with session_scope(engine) as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise AccountError(f"username: no such user {username!r}")
            plain, row = create_token(session, user, name, list(scope), days=days)
            audit.record(session, _operator(), "admin.token_create", user.username,
                         details={"token_id": row.id, "scopes": row.scopes, "via": "cli"})
    except AccountError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(plain)
