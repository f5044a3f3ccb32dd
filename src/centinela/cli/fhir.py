"""``centinela fhir import|export``: HL7 FHIR R4 in and out of the ledger."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

app = typer.Typer(help="HL7 FHIR R4: importar y exportar / import and export.",
                  no_args_is_help=True)


@app.command("import")
def import_cmd(
    paths: list[Path] = typer.Argument(..., help="Bundles (.json) or NDJSON files, or folders."),
    as_json: bool = typer.Option(False, "--json", help="Print the import report as JSON."),
    outcome: bool = typer.Option(False, "--outcome", help="Print the FHIR OperationOutcome."),
) -> None:
    """Importa recursos FHIR / import FHIR medication resources through the one intake path."""
    from centinela.db import create_schema, get_engine
    from centinela.ingest.fhir import FhirError, import_fhir, iter_files
    from centinela.ingest.service import ImportFailed

    files = list(iter_files(paths))
    missing = [str(p) for p in files if not p.is_file()]
    if missing or not files:
        typer.echo(f"Error: no existe / not found: {', '.join(missing) or 'no FHIR file'}",
                   err=True)
        raise typer.Exit(2)
    engine = get_engine()
    create_schema(engine)
    try:
        report = import_fhir(engine, [(p.name, p.read_bytes()) for p in files], channel="cli")
    except FhirError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ImportFailed as exc:
        typer.echo(exc.report.as_text(), err=True)
        raise typer.Exit(1) from None
    if outcome:
        typer.echo(json.dumps(_outcome(engine, report), ensure_ascii=False))
    elif as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        typer.echo(report.as_text())


def _outcome(engine, report) -> dict:
    from sqlalchemy import select

    from centinela.db import session_scope
    from centinela.ingest.fhir import operation_outcome
    from centinela.ledger.records import Rejection

    with session_scope(engine) as session:
        rows = session.scalars(select(Rejection).where(Rejection.import_id == report.import_id)
                               .order_by(Rejection.id).limit(1001))
        rej = [{"source": r.source, "line": r.line, "kind": r.kind, "reason": r.reason}
               for r in rows]
    return operation_outcome(report, rej)


@app.command("export")
def export_cmd(
    out: Path = typer.Argument(..., help="File to write (.ndjson, or .json for a Bundle)."),
    since: str = typer.Option("", help="First day (YYYY-MM-DD, UTC) of the movements."),
    until: str = typer.Option("", help="Day after the last (YYYY-MM-DD, UTC)."),
) -> None:
    """Exporta dispensaciones y administraciones a FHIR / export dispenses and administrations."""
    from centinela.db import create_schema, get_engine, session_scope
    from centinela.ingest.fhir_export import as_bundle, export_resources, write_ndjson

    def day(text: str) -> dt.datetime | None:
        if not text:
            return None
        try:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        except ValueError:
            typer.echo(f"Error: not a YYYY-MM-DD date: {text!r}", err=True)
            raise typer.Exit(2) from None

    lo, hi = day(since), day(until)
    engine = get_engine()
    create_schema(engine)
    with session_scope(engine) as session:
        resources = export_resources(session, lo, hi)
        if out.suffix.lower() == ".json":
            bundle = as_bundle(resources)
            out.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
            n = len(bundle["entry"])
        else:
            with out.open("w", encoding="utf-8") as fh:
                n = write_ndjson(resources, fh)
    typer.echo(f"{n} recursos FHIR escritos / FHIR resources written: {out}")
