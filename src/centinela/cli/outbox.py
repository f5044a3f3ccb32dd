"""``centinela outbox failed`` and ``centinela outbox retry``: deliveries that gave up."""

from __future__ import annotations

import typer

app = typer.Typer(help="Bandeja de salida / outbox of alert deliveries.", no_args_is_help=True)


@app.command("failed")
def failed() -> None:
    """Lista los envíos fallidos / list deliveries that failed after every retry."""
    from sqlalchemy import select

    from centinela.alerts.models import Delivery
    from centinela.db import get_engine, session_scope

    with session_scope(get_engine()) as s:
        rows = s.scalars(select(Delivery).where(Delivery.status == "failed")
                         .order_by(Delivery.id)).all()
        for d in rows:
            typer.echo(f"{d.id:6} {d.payload_kind:16} {d.ref or '':40} channel={d.channel_id} "
                       f"attempts={d.attempts} {(d.last_error or '')[:80]}")
        typer.echo(f"{len(rows)} envío(s) fallido(s) / failed deliveries")


@app.command("retry")
def retry(channel: int = typer.Option(None, help="Only this channel id.")) -> None:
    """Reencola los envíos fallidos / put failed deliveries back in the queue (audited)."""
    from centinela import audit
    from centinela.alerts.dispatch import retry_failed
    from centinela.db import get_engine, session_scope

    with session_scope(get_engine()) as s:
        n = retry_failed(s, channel_id=channel)
        audit.record(s, "cli", "outbox.retry", "outbox", details={"requeued": n,
                                                                  "channel": channel})
    typer.echo(f"{n} envío(s) reencolado(s) / deliveries re-queued")
