"""``centinela import DIR``: the spec's intake command (and ``centinela summary``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer()  # top-level commands, merged into the root by cli/__init__


@app.command("import")
def import_cmd(
    directory: Path = typer.Argument(..., help="Folder with establishments, professionals, "
                                     "products, movements, seizures (.csv or .jsonl)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="No progress bar (none is drawn when not a terminal)."),
) -> None:
    """Importa los archivos del formato / import the reporting-format files of DIR."""
    from centinela.db import create_schema, get_engine
    from centinela.ingest.progress import terminal_bar
    from centinela.ingest.service import ImportFailed, IntakeError, import_directory

    engine = get_engine()
    try:
        create_schema(engine)
        with terminal_bar(not quiet) as listener:
            report = import_directory(engine, directory, channel="cli", progress=listener)
    except IntakeError as exc:
        _fail(str(exc), as_json)
    except ImportFailed as exc:
        if as_json:
            typer.echo(json.dumps(exc.report.as_dict(), ensure_ascii=False))
        else:
            typer.echo(exc.report.as_text(), err=True)
            typer.echo("La importación se revirtió por completo / the import was rolled back; "
                       "nothing was stored.", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        typer.echo(report.as_text())
    if not any(f.status == "imported" for f in report.files):
        if not as_json:
            typer.echo("Ningún archivo legible / no readable file.", err=True)
        raise typer.Exit(1)


@app.command("rejections")
def rejections_cmd(
    import_id: int = typer.Option(None, "--import", help="Only this import (default: the latest)."),
    source: str = typer.Option(None, "--file", help="Only this file of the import."),
    limit: int = typer.Option(200, "--limit", min=1, help="At most this many rows."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many rows first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per rejection and line."),
) -> None:
    """Rechazos guardados de una importación / the stored rejections of an import, every one."""
    from sqlalchemy import func, select

    from centinela.db import create_schema, get_engine, session_scope
    from centinela.ledger.records import Rejection

    engine = get_engine()
    create_schema(engine)
    with session_scope(engine) as session:
        if import_id is None:
            import_id = session.scalar(select(func.max(Rejection.import_id)))
        if import_id is None:
            typer.echo("Sin rechazos / no rejections.")
            return
        q = select(Rejection).where(Rejection.import_id == import_id)
        if source:
            q = q.where(Rejection.source == source)
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(q.order_by(Rejection.source, Rejection.line, Rejection.id)
                               .offset(offset).limit(limit)).all()
        for r in rows:
            if as_json:
                typer.echo(json.dumps({"import_id": r.import_id, "source": r.source,
                                       "line": r.line, "record_type": r.record_type,
                                       "key": r.record_key, "field": r.field, "kind": r.kind,
                                       "reason": r.reason}, ensure_ascii=False))
            else:
                where = f"{r.source}:{r.line}" if r.line is not None else r.source
                tag = " [conflicto/conflict]" if r.kind == "conflict" else ""
                typer.echo(f"{where}{' ' + r.field if r.field else ''}: {r.reason}{tag}")
        if not as_json:
            typer.echo(f"{offset + 1 if rows else 0}–{offset + len(rows)} de / of {total} "
                       f"(importación / import #{import_id})", err=True)


@app.command("summary")
def summary_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Resumen nacional de lo cargado / national summary of what is stored."""
    from centinela.db import create_schema, get_engine, session_scope
    from centinela.ledger.summary import format_summary, national_summary

    engine = get_engine()
    create_schema(engine)
    with session_scope(engine) as session:
        data = national_summary(session)
    typer.echo(json.dumps(data, ensure_ascii=False) if as_json else format_summary(data))


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"status": "error", "error": message}, ensure_ascii=False))
    else:
        typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)
