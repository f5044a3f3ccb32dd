"""``centinela quarterly``: the quarterly inter-institutional report (HTML, PDF, JSON)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

app = typer.Typer()  # top-level commands, merged into the root by cli/__init__


@app.command("quarterly")
def quarterly_cmd(
    quarter: str = typer.Option(..., "--quarter", help="Trimestre / quarter, e.g. 2026Q3."),
    out: Path = typer.Option(..., "--out", help="Carpeta de salida / output folder."),
    as_of: str = typer.Option(None, "--as-of", help="Fecha de corte (ISO 8601, UTC); por defecto "
                              "lo último almacenado / default: the last thing stored."),
    no_pdf: bool = typer.Option(False, "--no-pdf", help="Sin PDF / HTML and JSON only."),
    no_deliver: bool = typer.Option(False, "--no-deliver",
                                    help="No encolar para los destinatarios / do not queue."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Informe trimestral / write DIR/centinela-YYYYQn.html, .pdf and .json and queue it."""
    from centinela.db import create_schema, get_engine, session_scope
    from centinela.quarterly.figures import Quarter, QuarterError
    from centinela.quarterly.service import produce
    from centinela.web.report_words import register

    register()

    try:
        Quarter.parse(quarter)
    except QuarterError as exc:
        raise typer.BadParameter(str(exc)) from None
    cutoff = None
    if as_of:
        try:
            cutoff = dt.datetime.fromisoformat(as_of).replace(tzinfo=None)
        except ValueError:
            raise typer.BadParameter(f"--as-of must be ISO 8601, got {as_of!r}") from None
    engine = get_engine()
    create_schema(engine)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with session_scope(engine) as s:
        res = produce(s, quarter, out, now, as_of=cutoff, actor="cli", deliver=not no_deliver,
                      pdf=not no_pdf)
    if as_json:
        typer.echo(json.dumps(res.__dict__, ensure_ascii=False))
        return
    typer.echo(f"Informe {res.quarter} (huella {res.digest[:16]}):")
    for f in res.files:
        typer.echo(f"  {f}")
    if not no_deliver:
        r = res.routing
        typer.echo(f"  encolado para {len(r.get('queued', []))} canal(es)"
                   + (f"; destinatarios desconocidos: {', '.join(r['unknown_recipients'])}"
                      if r.get("unknown_recipients") else ""))
