"""Numbered EWS bulletins in Spanish (what, where, when, risk, recommendations): HTML + PDF."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert
from centinela.ews.classify import CLASS_LABELS, classify_smiles
from centinela.ews.detect import substance_key
from centinela.ews.models import Bulletin, Signal
from centinela.ews.pdf import bulletin_pdf
from centinela.ews.registry import parse_query, registry
from centinela.lib.clock import lima_day
from centinela.reference import ubigeo as ubigeo_ref

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
SEVERITY_ORDER = ("low", "medium", "high", "critical")

RISK_ES = {
    "fentanyl": "Opioide sintético de muy alta potencia (unas 50 a 100 veces la morfina): dosis "
                "de microgramos pueden causar depresión respiratoria y muerte.",
    "listed_fentanyl_analogue": "Análogo del fentanilo fiscalizado; varios son más potentes que "
                                "el fentanilo (el carfentanilo, unas 100 veces).",
    "fentanyl_related": "Sustancia relacionada con el fentanilo de potencia desconocida: debe "
                        "suponerse al menos tan peligrosa como el fentanilo.",
    "fentanyl_scaffold_outside_class": "Estructura emparentada con el fentanilo no cubierta por "
                                       "la definición genérica: riesgo desconocido, requiere "
                                       "evaluación experta y posible fiscalización.",
    "nitazene": "Nitaceno (2-bencilbencimidazol): opioides sintéticos de potencia igual o mayor "
                "que el fentanilo; las intoxicaciones pueden requerir varias dosis de naloxona.",
    "brorphine_like": "Opioide sintético tipo brorfina, de alta potencia; suele venderse como "
                      "heroína u otros opioides.",
    "u_series": "Opioide sintético tipo U-47700, de potencia varias veces mayor que la morfina.",
    "precursor": "Precursor químico del fentanilo: indica posible fabricación ilícita local.",
    "other_opioid": "Opioide fiscalizado: riesgo de sobredosis, en especial combinado con "
                    "alcohol o sedantes.",
    "non_opioid": "Sustancia no opioide; puede aparecer como adulterante.",
}
RECOMMENDATIONS_ES = [
    "Servicios de salud: sospechar intoxicación por opioides ante depresión respiratoria, miosis "
    "y sedación; administrar naloxona y repetir la dosis si no hay respuesta; notificar el caso "
    "a Centinela con las sustancias sospechadas y confirmadas.",
    "Laboratorios forenses y toxicológicos: buscar la sustancia y sus análogos en muestras "
    "biológicas e incautaciones; comunicar la estructura (SMILES) identificada.",
    "Policía y aduanas: manipular polvos y comprimidos desconocidos con guantes y protección "
    "respiratoria; no abrir sobres ni paquetes sospechosos sin protocolo.",
    "Autoridades sanitarias regionales: difundir la alerta a los establecimientos y asegurar la "
    "disponibilidad de naloxona en emergencias y ambulancias.",
]


class BulletinError(ValueError):
    """Nothing to report, or an unknown substance or alert."""


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(["html"]))


def next_number(session: Session, year: int) -> tuple[int, str]:
    """Return the next sequence and number of ``year`` (EWS-2025-0001, ...)."""
    seq = (session.scalar(select(func.max(Bulletin.seq)).where(Bulletin.year == year)) or 0) + 1
    return seq, f"EWS-{year}-{seq:04d}"


def build_content(session: Session, now: dt.datetime, substance: str | None = None,
                  department: str | None = None, alert_ids: tuple[str, ...] = (),
                  days: int = 30) -> dict:
    """Assemble the facts of a bulletin from signals and alerts (no storage)."""
    alerts = [a for a in session.scalars(select(Alert).where(Alert.alert_id.in_(alert_ids)))] \
        if alert_ids else []
    if alert_ids and len(alerts) != len(set(alert_ids)):
        missing = set(alert_ids) - {a.alert_id for a in alerts}
        raise BulletinError("unknown alert(s): " + ", ".join(sorted(missing)))
    key = None
    name = None
    if substance:
        res = parse_query(substance)
        if res.error:
            raise BulletinError(f"substance: {res.error}")
        key = res.inchikey or ("name:" + substance.strip().lower())
        name = res.name or substance
    elif alerts:
        ev = alerts[0].evidence or {}
        key = ev.get("key") or ev.get("inchikey") or (
            ev.get("series") if ev.get("series") != "*overdose" else None)
        name = ev.get("substance")
    since = now - dt.timedelta(days=days)
    if alerts:
        since = min(since, *(a.window_start for a in alerts))
    q = select(Signal).where(Signal.occurred_at >= since, Signal.occurred_at <= now)
    if department:
        q = q.where(Signal.department == department)
    sigs = [s for s in session.scalars(q.order_by(Signal.occurred_at))
            if key is None or substance_key(s) == key]
    if alerts and not department:
        depts_from_alerts = {a.department for a in alerts if a.department}
        if key is None and depts_from_alerts:
            sigs = [s for s in sigs if s.department in depts_from_alerts]
    if not sigs and not alerts:
        raise BulletinError("no signals match: nothing to report")
    inchikey = key if key and not key.startswith("name:") else None
    hit = registry().by_inchikey(inchikey) if inchikey else None
    category = hit.category if hit else next(
        ((s.payload or {}).get("category") for s in sigs if (s.payload or {}).get("category")), None)
    if category is None and inchikey:
        smiles = next(((s.payload or {}).get("smiles") for s in sigs if (s.payload or {}).get("smiles")), None)
        category = classify_smiles(smiles).category if smiles else None
    name_es = hit.name_es if hit else (name or "sustancias no identificadas")
    by_kind = Counter(s.source_kind for s in sigs)
    deaths = sum(1 for s in sigs if s.source_kind == "overdose"
                 and (s.payload or {}).get("outcome") == "died")
    depts = sorted({s.department for s in sigs if s.department}
                   | {a.department for a in alerts if a.department})
    districts = Counter(s.ubigeo for s in sigs if s.ubigeo)
    where = [{"department": d, "name": ubigeo_ref.departments().get(d, d)} for d in depts]
    top_districts = []
    for code, n in districts.most_common(8):
        dist = ubigeo_ref.get(code)
        top_districts.append({"ubigeo": code, "name": f"{dist.district} ({dist.province}, "
                              f"{dist.department})" if dist else code, "count": n})
    dates = [lima_day(s.occurred_at) for s in sigs] + [lima_day(a.window_end) for a in alerts]
    first, last = (min(dates), max(dates)) if dates else (lima_day(now), lima_day(now))
    severity = max((a.severity for a in alerts), key=SEVERITY_ORDER.index, default=None) or (
        "high" if category in ("nitazene", "fentanyl_related", "listed_fentanyl_analogue",
                               "fentanyl") or deaths else "medium")
    label_es = CLASS_LABELS.get(category or "", ("clase no determinada",))[0]
    place = ", ".join(w["name"] for w in where) or "Perú"
    return {
        "title": f"Alerta temprana: {name_es} en {place}",
        "substance": {"name": name, "name_es": name_es, "inchikey": inchikey,
                      "category": category, "class_es": label_es,
                      "smiles": hit.canonical_smiles if hit else None},
        "what": ((f"Se ha registrado 1 señal de {name_es} ({label_es}" if len(sigs) == 1 else
                  f"Se han registrado {len(sigs)} señales de {name_es} ({label_es}")
                 + (f"; InChIKey {inchikey}" if inchikey else "") + ")."),
        "counts": {"seizures": by_kind.get("seizure", 0), "lab": by_kind.get("lab", 0),
                   "overdoses": by_kind.get("overdose", 0), "deaths": deaths,
                   "online": by_kind.get("online", 0), "citizen": by_kind.get("citizen", 0)},
        "where": where, "districts": top_districts,
        "when": {"from": first.isoformat(), "to": last.isoformat()},
        "risk": RISK_ES.get(category or "", "Sustancia de riesgo no caracterizado: tratar como "
                                            "opioide potente hasta su identificación."),
        "recommendations": RECOMMENDATIONS_ES,
        "alerts": [{"alert_id": a.alert_id, "detector": a.detector, "severity": a.severity,
                    "summary": a.summary} for a in alerts],
        "severity": severity,
        "disclaimer": "Boletín del Sistema de Alerta Temprana de Centinela basado en señales "
                      "notificadas; la información puede cambiar con nuevas confirmaciones de "
                      "laboratorio.",
    }


def render_html(number: str, issued_at: dt.datetime, content: dict) -> str:
    """Render the standalone HTML document of a bulletin (Jinja2)."""
    tpl = _env().get_template("ews/bulletin_document.html")
    return tpl.render(number=number, issued=lima_day(issued_at).isoformat(), c=content)


def create_bulletin(session: Session, now: dt.datetime, substance: str | None = None,
                    department: str | None = None, alert_ids: tuple[str, ...] = (),
                    days: int = 30, created_by: str = "system", route: bool = True) -> Bulletin:
    """Create, number, render (HTML, PDF), store and route a bulletin."""
    content = build_content(session, now, substance, department, tuple(alert_ids), days)
    year = lima_day(now).year
    for _ in range(3):  # two analysts issuing at once: retry on the unique (year, seq)
        seq, number = next_number(session, year)
        html = render_html(number, now, content)
        b = Bulletin(
            number=number, year=year, seq=seq, issued_at=now, title=content["title"],
            substance=content["substance"]["name_es"], inchikey=content["substance"]["inchikey"],
            category=content["substance"]["category"], severity=content["severity"],
            departments=[w["department"] for w in content["where"]],
            window_start=dt.datetime.fromisoformat(content["when"]["from"]),
            window_end=dt.datetime.fromisoformat(content["when"]["to"]),
            content=content, html=html, pdf=bulletin_pdf(number, now, content),
            alert_ids=list(alert_ids), routing={}, created_by=created_by,
        )
        try:
            with session.begin_nested():
                session.add(b)
                session.flush()
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - three concurrent collisions
        raise BulletinError("could not allocate a bulletin number; try again")
    if route:
        from centinela.ews.delivery import route_bulletin

        b.routing = route_bulletin(session, b, now)
        session.flush()
    return b


def bulletin_json(b: Bulletin, with_html: bool = False) -> dict:
    """Return the JSON twin of a bulletin."""
    out = {
        "number": b.number, "issued_at": b.issued_at.isoformat(), "title": b.title,
        "substance": b.substance, "inchikey": b.inchikey, "category": b.category,
        "severity": b.severity, "departments": list(b.departments or []),
        "window_start": b.window_start.date().isoformat(),
        "window_end": b.window_end.date().isoformat(), "content": b.content,
        "alert_ids": list(b.alert_ids or []), "routing": b.routing or {},
        "created_by": b.created_by, "pdf_bytes": len(b.pdf or b""),
    }
    if with_html:
        out["html"] = b.html
    return out
