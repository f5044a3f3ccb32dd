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


@db.command("partitions")
def partitions_cmd(
    ahead: int = typer.Option(None, "--ahead", help="Months to create ahead of this one "
                              "(default CENTINELA_PARTITION_AHEAD_MONTHS)."),
    retention: int = typer.Option(None, "--retention-months", help="Detach months that "
                                  "ended longer ago (default the setting; 0: keep all)."),
    since: str = typer.Option(None, "--from", help="Also create every month from this one "
                              "(YYYY-MM), before loading a backfill."),
    show: bool = typer.Option(False, "--list", help="Only list the partitions."),
) -> None:
    """Crea las particiones mensuales / create monthly movements partitions (PostgreSQL)."""
    from centinela.db import create_schema, get_engine
    from centinela.partitions import is_partitioned, maintain, partitions

    engine = get_engine()
    create_schema(engine)
    with engine.begin() as conn:
        if not is_partitioned(conn):
            typer.echo("movements is not partitioned on this database (SQLite, or PostgreSQL "
                       "before migration 0012_partitions): nothing to do")
            return
        if not show:
            import datetime as dt

            start = dt.date.fromisoformat(since + "-01") if since else None
            done = maintain(conn, ahead=ahead, retention_months=retention, since=start)
            typer.echo(f"created {len(done.created)}: {', '.join(done.created) or '-'}; "
                       f"moved out of the default: {done.moved or '-'}; "
                       f"archived: {', '.join(done.archived) or '-'}; "
                       f"dropped: {', '.join(done.dropped) or '-'}; "
                       f"statistics refreshed: {len(done.analyzed)}; "
                       f"loaders of dead imports dropped: {len(done.swept)}")
        for p in partitions(conn):
            span = f"{p['from']} – {p['to']}" if p["from"] else "default"
            typer.echo(f"{p['schema']}.{p['name']}\t{span}\t~{p['rows']} rows")


@app.command("settings")
def show_settings(markdown: bool = typer.Option(False, help="Print the reference table.")) -> None:
    """Show the effective settings (secrets hidden) or the Markdown reference."""
    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    from centinela.config import effective_lines, get_settings

    for line in effective_lines(get_settings()):
        typer.echo(line)
