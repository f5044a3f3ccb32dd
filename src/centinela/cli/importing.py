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
