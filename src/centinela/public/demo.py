"""Demo data and summary of the public channels for ``centinela demo`` (synthetic reports,
clearly marked as such)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.public.assistant.engine import ask
from centinela.public.directory import ensure_seeded
from centinela.public.intake import ReportInput, submit
from centinela.public.models import CitizenReport, TreatmentService
from centinela.public.triage import set_status, triage

DEMO_REPORTS = (
    ReportInput(kind="fentanyl_no_rx", ubigeo="150101", how="in_person",
                establishment_name="Botica San Martín",
                text="[DEMO] Venden ampollas de fentanilo sin receta en la botica frente al "
                     "hospital, las ofrecen a 50 soles."),
    ReportInput(kind="fentanyl_no_rx", ubigeo="150101", how="in_person",
                establishment_name="Botica San Martin",
                text="[DEMO] En la botica frente al hospital venden ampollas de fentanilo sin "
                     "receta, 50 soles cada una."),
    ReportInput(kind="online_offer", ubigeo="150132", how="online", contact="+51 987 654 321",
                text="[DEMO] Un vendedor ofrece fentanilo y pastillas por WhatsApp con entrega."),
    ReportInput(kind="online_offer", ubigeo="150135", how="phone", contact="987654321",
                text="[DEMO] Me escribieron desde el 987654321 ofreciendo 'fenta' por delivery."),
    ReportInput(kind="pills", ubigeo="040101", how="in_person",
                latitude=-16.3988, longitude=-71.5369,
                text="[DEMO] Venden pastillas sueltas de tramadol en el mercado sin receta."),
)


def seed_demo(session: Session, now: dt.datetime) -> list[str]:
    """File the synthetic demo reports (once) and move one along; return their codes."""
    ensure_seeded(session, now)
    if session.scalar(select(func.count()).select_from(CitizenReport)
                      .where(CitizenReport.text.like("[DEMO]%"))):
        return []
    codes = []
    for i, data in enumerate(DEMO_REPORTS):
        report, code = submit(session, data, channel="web",
                              now=now - dt.timedelta(hours=6 * (len(DEMO_REPORTS) - i)))
        codes.append(code)
    first = session.scalar(select(CitizenReport).order_by(CitizenReport.id).limit(1))
    set_status(session, first.report_id, "in_review", "demo", now,
               "Estamos verificando la información.")
    return codes


def demo_summary(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Return short lines that show both public channels working on this database."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = triage(session, now)
    clusters = {r.cluster for r in rows}
    dups = sum(1 for r in rows if r.duplicate_of)
    alerts = {r.report.alert_id for r in rows if r.report.alert_id}
    services = session.scalar(select(func.count()).select_from(TreatmentService))
    lines = [
        f"Denuncias ciudadanas: {len(rows)} en 90 días, {len(clusters)} grupos, "
        f"{dups} posibles duplicados, {len(alerts)} alertas citizen_report.",
    ]
    if rows:
        top = rows[0].report
        lines.append(f"  Prioridad más alta: {top.report_id} ({top.kind}, {top.priority}) "
                     f"estado={top.status}.")
    lines.append(f"Directorio de servicios: {services} (hospitales IPRESS + CSMC).")
    for q in ("¿Qué es la naloxona?", "mi amigo no respira y tiene los labios morados",
              "hospital cerca de Huamanga"):
        a = ask(q, session=session, now=now)
        head = a.answer.splitlines()[0][:90]
        lines.append(f"Asistente «{q}» → {a.kind}"
                     f"{' [' + a.red_flag + ']' if a.red_flag else ''}: {head}…")
    return lines
