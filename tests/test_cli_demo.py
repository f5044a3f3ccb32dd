"""``centinela demo --no-serve``: the README's first command, end to end on a small country."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from centinela.accounts.models import User
from centinela.alerts.models import Alert, Delivery
from centinela.cli import app
from centinela.ledger.records import Movement
from centinela.online.models import OnlineLead
from centinela.public.models import CitizenReport


def _demo(tmp_path):
    return CliRunner().invoke(app, ["demo", "--no-serve", "--scale", "0.03", "--seed", "2",
                                    "--data-dir", str(tmp_path / "demo-data")])


def test_demo_runs_every_step_and_is_idempotent(db_url, session, tmp_path):
    first = _demo(tmp_path)
    assert first.exit_code == 0, first.output
    out = first.output
    for heading in ("1. Datos sintéticos", "2. Importación", "3. Detección", "4. Canales públicos",
                    "5. Alerta temprana", "6. Enrutamiento", "8. Monitoreo en línea",
                    "Usuarios demo"):
        assert heading in out, heading
    assert "Resumen nacional / national summary" in out
    manifest = json.loads((tmp_path / "demo-data" / "demo.json").read_text())
    movements = session.scalar(select(func.count()).select_from(Movement))
    assert movements == manifest["files"]["movements"] > 0
    alerts = session.scalar(select(func.count()).select_from(Alert))
    assert alerts > 0
    # Every alert was routed and delivered to the outbox of at least one authority.
    assert session.scalar(select(func.count()).select_from(Delivery)) >= alerts
    assert "→ DIGEMID" in out
    assert session.scalar(select(func.count()).select_from(CitizenReport)) == 5
    leads = session.scalar(select(func.count()).select_from(OnlineLead))
    assert leads > 0  # the online leads page is not empty in the demo
    # One account per role; the prescriber is a real prescriber of the imported data.
    users = {u.username: u for u in session.scalars(select(User))}
    assert {"admin", "analista", "lima", "policia", "medico", "farmacia"} <= set(users)
    prescriber = users["medico"].professional_id
    assert session.scalar(select(func.count()).select_from(Movement)
                          .where(Movement.prescriber_id == prescriber)) > 0
    for username in users:
        assert f"   {username} " in out

    # Re-running reuses the same files: everything is a no-op duplicate, nothing conflicts.
    second = _demo(tmp_path)
    assert second.exit_code == 0, second.output
    assert "reutilizando / reusing" in second.output
    assert "0 conflictos/conflicts" in second.output
    assert f"{movements} duplicados/duplicates" in second.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Movement)) == movements
    assert session.scalar(select(func.count()).select_from(Alert)) == alerts
    assert session.scalar(select(func.count()).select_from(CitizenReport)) == 5
    assert session.scalar(select(func.count()).select_from(OnlineLead)) == leads
