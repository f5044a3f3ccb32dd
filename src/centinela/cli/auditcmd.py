"""``centinela audit verify`` and ``centinela audit checkpoint``: the audit chain's integrity."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Auditoría / audit log integrity.", no_args_is_help=True)


@app.command("verify")
def verify(
    checkpoints: Path = typer.Option(None, help="Signed checkpoint file (default: the setting)."),
) -> None:
    """Verifica la cadena / verify the hash chain and every signed checkpoint (exit 1 if bad)."""
    from centinela.auditsign import verify_all
    from centinela.db import get_engine, session_scope

    with session_scope(get_engine()) as s:
        v = verify_all(s, path=checkpoints)
    typer.echo(v.describe())
    if not v.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(
    no_deliver: bool = typer.Option(False, "--no-deliver", help="Only write the file."),
) -> None:
    """Firma la cabeza de la cadena / sign the chain head, append it and queue it."""
    from centinela.auditsign import checkpoint_path, make_checkpoint
    from centinela.db import get_engine, session_scope

    try:
        with session_scope(get_engine()) as s:
            body = make_checkpoint(s, deliver=not no_deliver)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"checkpoint #{body['last_id']} ({body['entries']} entries) -> {checkpoint_path()}")
