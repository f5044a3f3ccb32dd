"""``centinela db upgrade`` and ``centinela settings``: schema and configuration."""

from __future__ import annotations

import typer

from centinela.config import settings_markdown

app = typer.Typer()  # top-level commands, merged into the root by cli/__init__


db = typer.Typer(help="Database schema management.", no_args_is_help=True)


@db.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration to CENTINELA_DATABASE_URL."""
    from centinela.db import create_schema, get_engine

    create_schema(get_engine())
    typer.echo("schema up to date")


@app.command("settings")
def show_settings(markdown: bool = typer.Option(False, help="Print the reference table.")) -> None:
    """Show the effective settings (secrets hidden) or the Markdown reference."""
    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    from centinela.config import effective_lines, get_settings

    for line in effective_lines(get_settings()):
        typer.echo(line)
