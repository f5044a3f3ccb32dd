"""Treatment-services directory: seeded from the 241 IPRESS hospitals shipped in
``data/peru``, extended by admins with community mental-health centres (CSMC); nearest services
by district with haversine distance from the district capital."""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.lib.geo import haversine_km
from centinela.lib.text import fold
from centinela.public.models import SERVICE_KINDS, TreatmentService
from centinela.reference import ubigeo as ref

IPRESS_FILE = "hospitals_ipress_operational.csv"
IPRESS_SOURCE = ("MINSA, Registro Nacional de IPRESS (hospitales con internamiento en "
                 "funcionamiento), vía FabrizioSulcaR/Hospitals-Access-Peru, commit 6f00dbda")
IPRESS_LICENCE = "MIT (LICENSE-hospitals-access-peru.txt)"

# Letters lost upstream (U+FFFD) in frequent words; anything else is left as received.
_REPAIRS = {
    "JIR\ufffdN": "JIRÓN", "N\ufffdMERO": "NÚMERO", "JOS\ufffd": "JOSÉ", "PE\ufffdA": "PEÑA",
    "MU\ufffdOZ": "MUÑOZ", "C\ufffdSAR": "CÉSAR", "BA\ufffdOS": "BAÑOS", "C\ufffdCERES": "CÁCERES",
    "VER\ufffdNICA": "VERÓNICA", "PAMPA\ufffdA": "PAMPAÑA", "ESPA\ufffdA": "ESPAÑA",
    "SA\ufffdL": "SAÚL", "CARRI\ufffdN": "CARRIÓN", "HUAM\ufffdN": "HUAMÁN", "NU\ufffdEZ": "NUÑEZ",
    "RAM\ufffdN": "RAMÓN", "MARI\ufffdTEGUI": "MARIÁTEGUI", "HUAYC\ufffdN": "HUAYCÁN",
    "FERRE\ufffdAFE": "FERREÑAFE", "SU\ufffdREZ": "SUÁREZ", "REGI\ufffdN": "REGIÓN",
    "SEGU\ufffdN": "SEGÚN", "GUZM\ufffdN": "GUZMÁN", "SE\ufffdOR": "SEÑOR", "NI\ufffdO": "NIÑO",
}
_CION = re.compile("CI\ufffdN")
_NUM = re.compile("N\ufffd(?=\\s|\\d|$|[^A-Z])")


class ServiceError(ValueError):
    """A service record that cannot be stored (says which field and why)."""


def repair(text: str) -> str:
    """Restore the accented letters lost upstream where the word is unambiguous."""
    for bad, good in _REPAIRS.items():
        text = text.replace(bad, good)
    text = _CION.sub("CIÓN", text)
    return _NUM.sub("N°", text).strip()



def ipress_rows() -> list[dict]:
    """Read the shipped IPRESS hospitals: pad ubigeo to 6 digits, swap NORTE/ESTE, repair text."""
    out = []
    with ref.data_path(IPRESS_FILE).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            code = row["UBIGEO"].strip().split(".")[0].zfill(6)
            out.append({
                "service_id": f"IPRESS-{row['Codigo Unico'].strip()}",
                "name": repair(row["Nombre del establecimiento"]),
                "institution": repair(row["Institucion"]),
                "category": row["Categoría"].strip(),
                "ubigeo": code,
                "address": repair(row["Dirección"]),
                "phone": row["Teléfono"].strip(),
                "hours": row["Horario"].strip(),
                # Upstream swapped the columns: NORTE holds the longitude, ESTE the latitude.
                "latitude": float(row["ESTE"]) if row["ESTE"].strip() else None,
                "longitude": float(row["NORTE"]) if row["NORTE"].strip() else None,
            })
    return out


def seed_ipress(session: Session, now: dt.datetime) -> int:
    """Insert or refresh the 241 IPRESS hospitals (idempotent); return how many were new."""
    existing = {s.service_id: s for s in session.scalars(
        select(TreatmentService).where(TreatmentService.service_id.like("IPRESS-%")))}
    new = 0
    for row in ipress_rows():
        svc = existing.get(row["service_id"])
        if svc is None:
            svc = TreatmentService(service_id=row["service_id"], kind="hospital", created_at=now,
                                   added_by="seed", active=True)
            session.add(svc)
            new += 1
        for key, value in row.items():
            setattr(svc, key, value)
        svc.department = row["ubigeo"][:2]
        svc.source, svc.licence = IPRESS_SOURCE, IPRESS_LICENCE
    session.flush()
    return new


def ensure_seeded(session: Session, now: dt.datetime) -> None:
    """Seed the hospitals once if the directory has none of them (first use of the locator).
    A CSMC that an admin added before that first use does not stand for the hospitals."""
    if not session.scalar(select(func.count()).select_from(TreatmentService).where(
            TreatmentService.service_id.like("IPRESS-%"))):
        seed_ipress(session, now)


def add_service(session: Session, *, name: str, ubigeo: str, kind: str = "csmc",
                address: str = "", phone: str = "", hours: str = "",
                latitude: float | None = None, longitude: float | None = None,
                institution: str = "MINSA", source: str = "", service_id: str | None = None,
                added_by: str = "admin", now: dt.datetime) -> TreatmentService:
    """Add (or update by ``service_id``) a service such as a CSMC; validate every field."""
    name = (name or "").strip()
    if not name:
        raise ServiceError("name: required")
    if kind not in SERVICE_KINDS:
        raise ServiceError(f"kind: must be one of {', '.join(SERVICE_KINDS)}, got {kind!r}")
    ubigeo = (ubigeo or "").strip().zfill(6)
    if not ref.is_valid(ubigeo):
        raise ServiceError(f"ubigeo: {ubigeo!r} is not an INEI district code")
    if (latitude is None) != (longitude is None):
        raise ServiceError("latitude/longitude: give both or neither")
    if latitude is not None and not (-18.5 <= latitude <= 0.2 and -81.5 <= longitude <= -68.5):
        raise ServiceError(f"latitude/longitude: ({latitude}, {longitude}) is outside Peru")
    service_id = service_id or f"{kind.upper()}-{ubigeo}-{_slug(name)}"[:40]
    svc = session.scalar(select(TreatmentService).where(TreatmentService.service_id == service_id))
    if svc is None:
        svc = TreatmentService(service_id=service_id, created_at=now)
        session.add(svc)
    svc.name, svc.kind, svc.ubigeo, svc.department = name, kind, ubigeo, ubigeo[:2]
    svc.address, svc.phone, svc.hours, svc.institution = address, phone, hours, institution
    svc.latitude, svc.longitude = latitude, longitude
    svc.source = source or f"Registrado por {added_by}"
    svc.licence = "Centinela (datos propios)"
    svc.added_by, svc.active = added_by, True
    session.flush()
    return svc


def _slug(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "-", fold(text).upper()).strip("-")[:20]


@dataclass(frozen=True)
class NearbyService:
    service: TreatmentService
    distance_km: float

    def as_dict(self) -> dict:
        s = self.service
        d = ref.get(s.ubigeo)
        return {
            "service_id": s.service_id, "name": s.name, "kind": s.kind,
            "institution": s.institution, "category": s.category, "ubigeo": s.ubigeo,
            "district": d.district if d else None, "province": d.province if d else None,
            "department": d.department if d else None, "address": s.address,
            "phone": s.phone, "hours": s.hours, "distance_km": round(self.distance_km, 1),
            "source": s.source, "licence": s.licence,
        }


def nearest(session: Session, ubigeo: str, limit: int = 5, kind: str | None = None,
            now: dt.datetime | None = None) -> list[NearbyService]:
    """Return the ``limit`` nearest active services to the capital of district ``ubigeo``."""
    district = ref.get(ubigeo)
    if district is None:
        raise ServiceError(f"ubigeo: {ubigeo!r} is not an INEI district code")
    ensure_seeded(session, now or dt.datetime.now(dt.UTC).replace(tzinfo=None))
    q = select(TreatmentService).where(TreatmentService.active.is_(True))
    if kind:
        q = q.where(TreatmentService.kind == kind)
    found = []
    for svc in session.scalars(q):
        lat, lon = svc.latitude, svc.longitude
        if lat is None or lon is None:
            # No coordinates of its own: use the capital of its district.
            home = ref.get(svc.ubigeo)
            if home is None:
                continue
            lat, lon = home.latitude, home.longitude
        found.append(NearbyService(svc, haversine_km(district.latitude, district.longitude,
                                                     lat, lon)))
    found.sort(key=lambda n: (n.distance_km, n.service.name))
    return found[:limit]


# Specialised public mental-health and addiction hospitals in the shipped IPRESS list (national
# psychiatric hospitals with addiction units). Community mental-health centres (CSMC) are not in
# the shipped data; admins add them through POST /api/v1/services (kind "csmc").
MENTAL_HEALTH_IPRESS = {
    "IPRESS-6214": "Hospital psiquiátrico con servicio de adicciones",   # Víctor Larco Herrera
    "IPRESS-5948": "Hospital psiquiátrico con servicio de adicciones",   # Hermilio Valdizán
}
CSMC_RADIUS_KM = 60.0
# The shipped IPRESS list holds general hospitals: whether one has a mental-health or
# addiction service is not in the data, so the note does not claim it.
NO_CSMC_NOTE = {
    "es": "Centinela aún no tiene registrado un Centro de Salud Mental Comunitario (CSMC) a menos "
          "de {km:.0f} km; los hospitales de la lista son generales: pregunte si tienen "
          "servicio de salud mental o adicciones. Pregunte por el CSMC de su zona en la "
          "Línea 113, opción 5.",
    "en": "Centinela has no Community Mental Health Centre (CSMC) registered within {km:.0f} km; "
          "the hospitals listed are general hospitals: ask whether they have a mental-health "
          "or addiction service. Ask Línea 113, option 5 for the CSMC of your area.",
    "qu": "Manam CSMC qayllapichu kan. Línea 113, 5 kaqta akllay.",
}


def mental_health_nearby(session: Session, ubigeo: str, now: dt.datetime | None = None,
                         limit: int = 2) -> tuple[list[NearbyService], dict | None]:
    """Nearest CSMC or addiction services to ``ubigeo``, and an honest note when none is near.

    Returns (services, note): registered CSMCs within ``CSMC_RADIUS_KM`` first, then the
    specialised psychiatric hospitals of the shipped data within the same radius.
    """
    csmc = [n for n in nearest(session, ubigeo, limit=limit, kind="csmc", now=now)
            if n.distance_km <= CSMC_RADIUS_KM]
    hospitals = [n for n in nearest(session, ubigeo, limit=400, kind="hospital", now=now)
                 if n.service.service_id in MENTAL_HEALTH_IPRESS
                 and n.distance_km <= CSMC_RADIUS_KM]
    found = (csmc + hospitals)[:limit]
    note = None
    if not csmc:
        note = {k: v.format(km=CSMC_RADIUS_KM) for k, v in NO_CSMC_NOTE.items()}
    return found, note
