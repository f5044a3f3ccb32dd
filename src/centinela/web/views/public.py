"""Contexts of the citizen pages: the report form, the cascading place lists and the
treatment-services finder (the JSON API returns the same dicts)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from centinela.public import directory
from centinela.public.abuse import new_challenge
from centinela.public.models import REPORT_HOWS, REPORT_KINDS
from centinela.public.text import collation_key
from centinela.reference import ubigeo as ref

CENTRAL_DENUNCIAS = {"name": "Central Única de Denuncias (Ministerio del Interior)",
                     "phone": "1818"}


def places(department: str | None, province: str | None) -> list[dict]:
    """Places in Spanish (es-PE) alphabetical order: "Áncash" right after "Amazonas"."""
    if province:
        rows = ({"code": d.ubigeo, "name": d.district}
                for d in ref.districts().values() if d.province_code == province)
    elif department:
        rows = ({"code": code, "name": names[1]} for code, names in ref.provinces().items()
                if code[:2] == department)
    else:
        rows = ({"code": c, "name": n} for c, n in ref.departments().items())
    return sorted(rows, key=lambda p: collation_key(p["name"]))


def place_choices(ubigeo: str | None, department: str | None = None,
                  province: str | None = None) -> dict:
    """The three cascading lists with the person's choice kept (after an error, on reload)."""
    code = (ubigeo or "").strip()
    if code and ref.is_valid(code.zfill(6)):
        code = code.zfill(6)
        department, province = code[:2], code[:4]
    department = department or None
    province = province if province and department and province[:2] == department else None
    return {
        "departments": places(None, None),
        "provinces": places(department, None) if department else [],
        "districts": places(None, province) if province else [],
        "chosen": {"department": department or "", "province": province or "",
                   "ubigeo": code if province else ""},
    }


def report_form_context(now: dt.datetime, **extra) -> dict:
    """The report form: a fresh challenge, the choices, and what the person typed (``values``)."""
    values = extra.get("values") or {}
    ctx = {"challenge": new_challenge(now), "kinds": REPORT_KINDS, "hows": REPORT_HOWS,
           "central": CENTRAL_DENUNCIAS, "values": {}, "error": None, "error_field": None,
           "emergency": None,
           **place_choices(values.get("ubigeo"), values.get("department"),
                           values.get("province"))}
    ctx.update(extra)
    return ctx


def services_context(session: Session, ubigeo: str | None, kind: str | None, limit: int,
                     now: dt.datetime) -> dict:
    """The nearest treatment services to a district (the services page and its JSON twin)."""
    d = ref.get((ubigeo or "").zfill(6)) if ubigeo else None
    found = directory.nearest(session, d.ubigeo, limit=limit, kind=kind, now=now) if d else []
    specialised, note = (directory.mental_health_nearby(session, d.ubigeo, now=now)
                         if d and kind in (None, "csmc") else ([], None))
    return {"ubigeo": d.ubigeo if d else None,
            "place": f"{d.district}, {d.province}, {d.department}" if d else None,
            "services": [n.as_dict() for n in found],
            "mental_health": [n.as_dict() for n in specialised],
            "mental_health_note": note}
