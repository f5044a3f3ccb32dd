"""``centinela certification …``: progress of the opioid-competency certification, reminders."""

from __future__ import annotations

import datetime as dt
import json

import typer

app = typer.Typer(help="Certificación en opioides / opioid-competency certification.",
                  no_args_is_help=True)


def _day(value: str | None) -> dt.date:
    if not value:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--as-of must be YYYY-MM-DD, got {value!r}") from None


def _engine():
    from centinela.db import create_schema, get_engine

    engine = get_engine()
    create_schema(engine)
    return engine


@app.command("status")
def status_cmd(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per department and line."),
    as_of: str = typer.Option(None, "--as-of", help="Day to evaluate (YYYY-MM-DD; default today)."),
) -> None:
    """Avance por departamento / progress by department (prescribers and pharmacists; nurses apart)."""
    from centinela.certification.progress import department_status, national
    from centinela.config import get_settings
    from centinela.db import session_scope

    day = _day(as_of)
    with session_scope(_engine()) as s:
        rows = department_status(s, day)
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, ensure_ascii=False))
        return
    st = get_settings()
    typer.echo(f"Certificación en opioides al {day} (plazo {st.certification_deadline}; "
               f"vigencia {st.certification_valid_days} días)")
    typer.echo(f"{'dep':<4}{'departamento':<22}{'certif.':>9}{'total':>8}{'%':>7}"
               f"{'vencen<60d':>12}{'enf. cert.':>12}{'enf. total':>12}")
    for r in [*rows, national(rows)] if rows else []:
        pct = "-" if r["percent"] is None else f"{r['percent']:.1f}"
        typer.echo(f"{r['department']:<4}{r['name'][:21]:<22}{r['certified']:>9}{r['total']:>8}"
                   f"{pct:>7}{r['expiring_60d']:>12}{r['nurses_certified']:>12}{r['nurses_total']:>12}")


@app.command("remind")
def remind_cmd(
    as_of: str = typer.Option(None, "--as-of", help="Day to evaluate (YYYY-MM-DD; default today)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Encola recordatorios / queue reminders (missing, expired, expiring within the window)."""
    from centinela.certification.progress import send_reminders
    from centinela.db import session_scope

    day = _day(as_of)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with session_scope(_engine()) as s:
        res = send_reminders(s, day, now)
    if as_json:
        typer.echo(json.dumps(res, ensure_ascii=False))
    else:
        words = {"expiring": "por vencer", "expired": "vencidos", "missing": "sin certificado"}
        states = ", ".join(f"{n} {words.get(k, k)}" for k, n in (res["by_state"] or {}).items())
        typer.echo(f"{res['due']} profesionales por recordar ({states or 'ninguno'}); encolados: "
                   f"{res['queued_professionals']} a profesionales, {res['queued_authorities']} "
                   "a autoridades regionales")
