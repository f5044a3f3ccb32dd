"""``centinela ews …``: the early-warning system from the command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

app = typer.Typer(help="Sistema de alerta temprana / early-warning system (fentanyl, "
                       "analogues, new synthetic opioids).", no_args_is_help=True)


def _now(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    from centinela.lib.clock import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise typer.BadParameter(f"--now must be ISO 8601, got {value!r}") from None


def _engine():
    from centinela.db import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


def _echo(data, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, default=str) if as_json else text)


@app.command("classify")
def classify_cmd(
    query: str = typer.Argument(None, help="SMILES or a name from the substance registry."),
    file: Path = typer.Option(None, "--file", "-f", dir_okay=False, allow_dash=True,
                              help="One SMILES or name per line ('-' = standard input)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one line per item with --file)."),
    processes: int = typer.Option(1, "--processes", "-p", min=1, max=64,
                                  help="Worker processes for --file."),
) -> None:
    """Clasifica estructuras o nombres / classify structures or names (with reasons)."""
    from centinela.ews.classify import classify_lines, classify_record

    if file is not None:
        import sys

        try:
            fh = sys.stdin if str(file) == "-" else file.open(encoding="utf-8-sig", errors="replace")
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc.strerror}") from None
        errors = 0
        out = sys.stdout
        with fh:
            for n, rec in classify_lines(fh, processes=processes):
                errors += bool(rec["error"])
                if as_json:
                    out.write(json.dumps({"line": n, **rec}, ensure_ascii=False) + "\n")
                else:
                    name = rec["name_es"] or rec["smiles"] or rec["query"]
                    what = f"error: {rec['error_es']}" if rec["error"] else (
                        f"{rec['family']}\t{rec['category']}\t"
                        f"{'fiscalizado' if rec['controlled'] else 'revisión' if rec['controlled'] is None else 'no fiscalizado'}")
                    out.write(f"{n}\t{what}\t{name}\n")
        if errors:
            typer.echo(f"{errors} elemento(s) con error / item(s) with errors", err=True)
        return
    if not query:
        raise typer.BadParameter("give a SMILES or name, or --file")
    res = classify_record(query)
    control = ("sí / yes" if res["controlled"] else "no (no fiscalizada individualmente) / no "
               "(not individually controlled)" if res["controlled"] is False
               else "no se puede afirmar / cannot be asserted" if res["error"]
               else "requiere revisión experta / needs expert review")
    lines = [f"{res['label_es']} / {res['label_en']}  [{res['category']}]",
             f"familia/family: {res['family_label_es']} / {res['family_label_en']} "
             f"[{res['family']}]",
             f"fiscalizado/controlled: {control}"]
    if res["error"]:
        lines.append(f"error: {res['error_es']} / {res['error']}")
    elif res["street_name"]:  # a street name that names a substance ("fenta")
        street = res["street_name"]
        lines.append(f"nombre callejero / street name: {street['reading_es']}; poco fiable, "
                     f"confirme con análisis de laboratorio / {street['reading_en']}; "
                     "unreliable, confirm by laboratory analysis")
    for k in ("registry_name", "name_es", "parent", "inchikey", "smiles", "formula",
              "control_source"):
        if res[k]:
            lines.append(f"{k}: {res[k]}")
    for c in res["components"]:
        lines.append(f"  componente/component: {c['smiles']} ({c['role']}: "
                     f"{c.get('counter_ion') or c.get('family')})")
    for c in res["clauses"]:
        lines.append(f"{c['title_es']} / {c['title_en']}")
        lines.extend(f"    - {d}" for d in c["details"])
    lines.extend(f"* {r}" for r in res["reasons"])
    lines.extend(f"nota: {r}" for r in res["notes"])
    _echo(res, as_json, "\n".join(lines))
    if res["error"]:
        raise typer.Exit(2)


@app.command("substances")
def substances_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Lista el registro de sustancias / list the substance registry."""
    from centinela.ews.registry import registry

    rows = [s.as_dict() for s in registry().substances]
    _echo(rows, as_json, "\n".join(f"{r['inchikey']}  {r['category']:<26} {r['name']}"
                                   for r in rows))


@app.command("tier")
def tier_cmd(
    mass_mg: float = typer.Option(None, "--mass-mg", help="Laboratory net mass in mg."),
    purity: float = typer.Option(None, "--purity", help="Purity in percent (0-100]."),
    units: float = typer.Option(None, "--units", help="Number of units (ampoules, patches…)."),
    strength: float = typer.Option(None, "--strength-mg", help="mg per unit (instead of --product)."),
    product: str = typer.Option(None, "--product", help="product_code of a registry product."),
    substance: str = typer.Option("fentanyl", "--substance", help="SMILES or name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Tramo de la Ley 32250 / Law 32250 quantity tier (reference, not legal advice)."""
    from centinela.ews.classify import classify
    from centinela.ews.tiers import TierError, tier

    if product and strength is None:
        from centinela.db import session_scope
        from centinela.registry.models import Product

        with session_scope(_engine()) as session:
            p = session.get(Product, product)
            if p is None:
                raise typer.BadParameter(f"unknown product_code {product!r}")
            strength = p.strength_mg_per_unit
    cls = classify(substance)
    try:
        res = tier(mass_mg, purity, units, strength, fentanyl_class=cls.fentanyl_class).as_dict()
    except TierError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    res["substance"] = {"query": substance, "category": cls.category, "name": cls.registry_name}
    text = (f"{res['label_es']} / {res['label_en']}: {res['article']}, "
            f"{res['penalty_years'][0]}-{res['penalty_years'][1]} años\n"
            f"masa: {res['mass_mg']:g} mg ({res['mass_basis']})\n"
            + "".join(f"nota: {n}\n" for n in res["notes"]) + res["disclaimer_es"])
    _echo(res, as_json, text)


@app.command("import-overdoses")
def import_overdoses_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="overdoses.csv or overdoses.jsonl"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Importa intoxicaciones/sobredosis / import overdose and poisoning records."""
    from centinela.db import session_scope
    from centinela.ews.intake import import_overdoses_file
    from centinela.ledger.records import ImportRun, Rejection

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with session_scope(_engine()) as session:
        run = ImportRun(source=str(file), channel="cli", started_at=now, status="running")
        session.add(run)
        session.flush()
        counts = import_overdoses_file(session, file, run.id)
        run.accepted, run.duplicates = counts["accepted"], counts["duplicates"]
        run.conflicts, run.rejected = counts["conflicts"], counts["rejected"]
        run.status, run.finished_at = "done", now
        run.summary = {"overdoses": counts}
        rejections = [
            {"line": r.line, "field": r.field, "kind": r.kind, "reason": r.reason}
            for r in session.query(Rejection).filter(Rejection.import_id == run.id)
            .order_by(Rejection.line).limit(50)
        ]
    text = (f"aceptados/accepted {counts['accepted']} · duplicados/duplicates "
            f"{counts['duplicates']} · conflictos/conflicts {counts['conflicts']} · "
            f"rechazados/rejected {counts['rejected']}\n"
            + "\n".join(f"  línea {r['line']}: {r['field'] or '-'}: {r['reason']}"
                        for r in rejections))
    _echo({**counts, "import_id": run.id, "rejections": rejections}, as_json, text)


@app.command("sync")
def sync_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Convierte incautaciones nuevas en señales / turn new seizures into signals."""
    from centinela.db import session_scope
    from centinela.ews.intake import sync_seizures

    with session_scope(_engine()) as session:
        counts = sync_seizures(session)
    _echo(counts, as_json, f"nuevas/new {counts['new']} · actualizadas/updated "
                           f"{counts['updated']} · sin cambios/unchanged {counts['unchanged']}")


@app.command("detect")
def detect_cmd(
    now: str = typer.Option(None, "--now", help="Evaluate as of this time (ISO 8601)."),
    sims: int = typer.Option(999, "--sims", help="Monte-Carlo replicates of the scan."),
    no_sync: bool = typer.Option(False, "--no-sync", help="Do not sync seizures first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Ejecuta los detectores de alerta temprana / run the EWS detectors."""
    from centinela.db import session_scope
    from centinela.ews.detect import DetectConfig
    from centinela.ews.detectors import run
    from centinela.ews.intake import sync_seizures
    from centinela.ews.scan import ScanParams

    at = _now(now)
    with session_scope(_engine()) as session:
        synced = None if no_sync else sync_seizures(session)
        counts = run(session, at, DetectConfig(scan=ScanParams(n_sims=sims)))
    out = {"now": at.isoformat(), "synced": synced, "detectors": counts}
    _echo(out, as_json, "\n".join(f"{k}: nuevas/created {v['created']}, actualizadas/updated "
                                  f"{v['updated']}" for k, v in counts.items()))


@app.command("bulletin")
def bulletin_cmd(
    substance: str = typer.Option(None, "--substance", help="Name or SMILES."),
    department: str = typer.Option(None, "--department", help="2-digit department code."),
    alert: list[str] = typer.Option(None, "--alert", help="alert_id to cite (repeatable)."),
    days: int = typer.Option(30, "--days", help="Days of signals to summarise."),
    out: Path = typer.Option(None, "--out", help="Folder to write NUMBER.html and NUMBER.pdf."),
    now: str = typer.Option(None, "--now", help="Issue time (ISO 8601)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Emite un boletín numerado / issue a numbered EWS bulletin (HTML + PDF, routed)."""
    from centinela.db import session_scope
    from centinela.ews.bulletins import BulletinError, bulletin_json, create_bulletin

    if not substance and not alert and not department:
        raise typer.BadParameter("give --substance, --department or --alert")
    try:
        with session_scope(_engine()) as session:
            b = create_bulletin(session, _now(now), substance, department, tuple(alert or ()),
                                days, created_by="cli")
            data = bulletin_json(b)
            html, pdf = b.html, b.pdf
    except BulletinError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{data['number']}.html").write_text(html, encoding="utf-8")
        (out / f"{data['number']}.pdf").write_bytes(pdf or b"")
        data["files"] = [str(out / f"{data['number']}.html"), str(out / f"{data['number']}.pdf")]
    _echo(data, as_json, f"{data['number']}: {data['title']} ({data['severity']}); "
                         f"enrutamiento/routing: {data['routing'].get('status')}")


@app.command("export")
def export_cmd(
    since: str = typer.Option(None, "--since", help="Start date/time (default: 30 days ago)."),
    until: str = typer.Option(None, "--until", help="End date/time (default: now)."),
    department: str = typer.Option(None, "--department", help="2-digit department code."),
    out: Path = typer.Option(None, "--out", help="Write the JSON document here."),
) -> None:
    """Exporta incidentes en JSON / export incidents as structured JSON for exchange."""
    from centinela.db import session_scope
    from centinela.ews.export import export_incidents

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if until and len(until) == 10:
        until += "T23:59:59"  # a date means the whole day
    end = _now(until) if until else now
    start = _now(since) if since else end - dt.timedelta(days=30)
    with session_scope(_engine()) as session:
        doc = export_incidents(session, start, end, now, department)
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{doc['count']} incidentes → {out}")
    else:
        typer.echo(text)
