"""Ledger → HL7 FHIR R4: dispenses and administrations with the registry records they cite.

The inverse of ``ingest.fhir``: what it writes, ``centinela fhir import`` reads back to the same
ledger (tested as a round trip). Patients leave only as their ``PSN:`` pseudonym.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ingest import fhir as F
from centinela.ledger.records import Movement
from centinela.registry.models import Establishment, Product, Professional

GENDER_OUT = {"F": "female", "M": "male", "X": "other"}


def _id(prefix: str, value: str) -> str:
    """A FHIR id (``[A-Za-z0-9-.]{1,64}``) for a business key."""
    import hashlib

    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in value)
    if len(safe) > 48:
        safe = safe[:32] + "-" + hashlib.blake2b(value.encode(), digest_size=6).hexdigest()
    return f"{prefix}-{safe}"


def _time(t: dt.datetime) -> str:
    """A stored time (naive UTC) as a FHIR dateTime."""
    return t.isoformat() + "Z"


def _request_key(m: Movement) -> str:
    return "req:" + (m.prescription_id or "") + "|" + (m.prescriber_id or "")


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def organization(e: Establishment) -> dict:
    ident = [{"system": F.EST, "value": e.establishment_id}]
    if e.ruc:
        ident.append({"system": F.RUC, "value": e.ruc})
    ext = [{"url": F.EXT_AUTHORIZED, "valueBoolean": bool(e.authorized_controlled)}]
    if e.authorization_expires:
        ext.append({"url": F.EXT_AUTH_EXPIRES, "valueDate": e.authorization_expires.isoformat()})
    return {"resourceType": "Organization", "id": _id("org", e.establishment_id),
            "extension": ext, "identifier": ident, "name": e.name,
            "type": [{"coding": [{"system": F.KIND, "code": e.kind}]},
                     {"coding": [{"system": F.SECTOR, "code": e.sector}]}],
            "address": [{"extension": [{"url": F.EXT_UBIGEO, "valueCode": e.ubigeo}],
                         "country": "PE"}]}


def practitioner(p: Professional) -> dict:
    res: dict = {"resourceType": "Practitioner", "id": _id("pra", p.professional_id),
                 "identifier": [{"system": F.PRO, "value": p.professional_id}],
                 "name": [{"text": p.full_name}]}
    if p.establishment_id:
        res["extension"] = [{"url": F.EXT_ESTABLISHMENT,
                             "valueIdentifier": {"system": F.EST, "value": p.establishment_id}}]
    if p.ubigeo:
        res["address"] = [{"extension": [{"url": F.EXT_UBIGEO, "valueCode": p.ubigeo}]}]
    quals = []
    if p.specialty:
        quals.append({"code": {"coding": [{"system": F.SPECIALTY, "code": p.specialty}]}})
    if p.opioid_certified_on:
        q: dict = {"code": {"coding": [{"system": F.CERTIFICATE, "code": "opioid-competency"}]},
                   "period": {"start": p.opioid_certified_on.isoformat()}}
        if p.certificate_id:
            q["identifier"] = [{"system": F.CERTIFICATE, "value": p.certificate_id}]
        quals.append(q)
    if quals:
        res["qualification"] = quals
    return res


def medication(p: Product) -> dict:
    coding = [{"system": F.PRODUCT, "code": p.product_code}]
    if p.gtin:
        coding.append({"system": F.GTIN, "code": p.gtin})
    res: dict = {
        "resourceType": "Medication", "id": _id("med", p.product_code),
        "code": {"coding": coding, "text": p.name},
        "form": {"coding": [{"system": F.DOSAGE_FORM, "code": p.dosage_form}]},
        "ingredient": [{"itemCodeableConcept": {"coding": [{"system": F.SUBSTANCE,
                                                             "code": p.substance}]},
                        "strength": {"numerator": {"value": _num(p.strength_mg_per_unit),
                                                   "unit": "mg", "code": "mg",
                                                   "system": "http://unitsofmeasure.org"},
                                     "denominator": {"value": 1, "unit": p.dosage_form}}}],
    }
    ext = []
    if p.patch_mcg_per_hour:
        ext.append({"url": F.EXT + "patch-mcg-per-hour",
                    "valueDecimal": _num(p.patch_mcg_per_hour)})
    if p.units_per_pack:
        ext.append({"url": F.EXT + "units-per-pack", "valueInteger": int(p.units_per_pack)})
    if ext:
        res["extension"] = ext
    return res


def _patient(psn: str, sex: str | None, year: int | None, ubigeo: str | None) -> dict:
    res: dict = {"resourceType": "Patient", "id": _id("pat", psn),
                 "identifier": [{"system": F.SYS + "psn", "value": psn.removeprefix("PSN:")}]}
    if sex:
        res["gender"] = GENDER_OUT.get(sex, "unknown")
    if year:
        res["birthDate"] = f"{year:04d}"
    if ubigeo:
        res["address"] = [{"extension": [{"url": F.EXT_UBIGEO, "valueCode": ubigeo}]}]
    return res


def _ref(resource: dict) -> dict:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def movement_resource(m: Movement, refs: dict[str, dict]) -> dict:
    """A MedicationDispense or MedicationAdministration for one stored movement."""
    contained = {"resourceType": "Medication", "id": "m",
                 "code": {"coding": [{"system": F.PRODUCT, "code": m.product_code}]}}
    if m.lot or m.expiry:
        contained["batch"] = {**({"lotNumber": m.lot} if m.lot else {}),
                              **({"expirationDate": m.expiry.isoformat()} if m.expiry else {})}
    base: dict = {"id": _id("mv", f"{m.establishment_id}.{m.event_id}"),
                  "contained": [contained],
                  "identifier": [{"system": F.EVENT, "value": m.event_id}],
                  "status": "completed", "medicationReference": {"reference": "#m"}}
    ext = [{"url": F.EXT_ESTABLISHMENT, "valueReference": _ref(refs["org:" + m.establishment_id])}]
    if m.serial:
        ext.append({"url": F.EXT_SERIAL, "valueString": m.serial})
    base["extension"] = ext
    if m.patient_id:
        shared = refs["pat:" + m.patient_id]
        own = _patient(m.patient_id, m.patient_sex, m.patient_birth_year, m.patient_ubigeo)
        if {k: own.get(k) for k in ("gender", "birthDate", "address")} == \
                {k: shared.get(k) for k in ("gender", "birthDate", "address")}:
            base["subject"] = _ref(shared)
        else:  # this movement's record of the person differs: keep it with the movement
            base["contained"].append({**own, "id": "p"})
            base["subject"] = {"reference": "#p"}
    performer = [{"actor": _ref(refs["pra:" + m.professional_id])}] if m.professional_id else []
    if m.event_type == "dispense":
        res = {"resourceType": "MedicationDispense", **base,
               "quantity": {"value": _num(m.quantity)},
               "whenHandedOver": _time(m.occurred_at)}
        if performer:
            res["performer"] = performer
        if m.days_supply:
            res["daysSupply"] = {"value": int(m.days_supply)}
        if _request_key(m) in refs:
            res["authorizingPrescription"] = [_ref(refs[_request_key(m)])]
        return res
    res = {"resourceType": "MedicationAdministration", **base,
           "effectiveDateTime": _time(m.occurred_at),
           "dosage": {"dose": {"value": _num(m.quantity)}}}
    if performer:
        res["performer"] = performer
    if _request_key(m) in refs:
        res["request"] = _ref(refs[_request_key(m)])
    return res


def export_resources(session: Session, since: dt.datetime | None = None,
                     until: dt.datetime | None = None,
                     types: tuple[str, ...] = ("dispense", "administer"),
                     limit: int | None = None) -> Iterator[dict]:
    """Yield the registry resources cited, then one resource per dispense or administration."""
    q = select(Movement).where(Movement.event_type.in_(types))
    if since is not None:
        q = q.where(Movement.occurred_at >= since)
    if until is not None:
        q = q.where(Movement.occurred_at < until)
    moves = list(session.scalars(q.order_by(Movement.occurred_at, Movement.id).limit(limit)))
    ests = {m.establishment_id for m in moves}
    pros = {p for m in moves for p in (m.professional_id, m.prescriber_id) if p}
    prods = {m.product_code for m in moves}
    refs: dict[str, dict] = {}
    professionals = list(session.scalars(select(Professional).where(
        Professional.professional_id.in_(pros))))
    ests |= {p.establishment_id for p in professionals if p.establishment_id}  # workplaces
    for e in session.scalars(select(Establishment).where(
            Establishment.establishment_id.in_(ests))):
        refs["org:" + e.establishment_id] = r = organization(e)
        yield r
    for p in professionals:
        refs["pra:" + p.professional_id] = r = practitioner(p)
        yield r
    for p in session.scalars(select(Product).where(Product.product_code.in_(prods))):
        yield medication(p)
    # One Patient per pseudonym, with its most frequent sex, birth year and district.
    traits: dict[str, Counter] = {}
    for m in moves:
        if m.patient_id:
            traits.setdefault(m.patient_id, Counter())[
                (m.patient_sex, m.patient_birth_year, m.patient_ubigeo)] += 1
    for psn, counter in traits.items():
        sex, year, ubg = counter.most_common(1)[0][0]
        refs["pat:" + psn] = r = _patient(psn, sex, year, ubg)
        yield r
    for m in moves:
        key = _request_key(m)
        if (m.prescriber_id or m.prescription_id) and key not in refs:
            req: dict = {"resourceType": "MedicationRequest",
                         "id": _id("req", key[4:]), "status": "completed", "intent": "order",
                         "medicationCodeableConcept": {"coding": [{"system": F.PRODUCT,
                                                                   "code": m.product_code}]},
                         "subject": _ref(refs["pat:" + m.patient_id]) if m.patient_id
                         else {"display": "unknown"},
                         }
            if m.prescriber_id:
                req["requester"] = _ref(refs["pra:" + m.prescriber_id])
            if m.prescription_id:
                req["identifier"] = [{"system": F.FORM, "value": m.prescription_id}]
            refs[key] = req
            yield req
        yield movement_resource(m, refs)


def write_ndjson(resources: Iterator[dict], out) -> int:
    """Write one resource a line; return how many."""
    n = 0
    for r in resources:
        out.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
        n += 1
    return n


def as_bundle(resources: Iterator[dict]) -> dict:
    """A ``collection`` Bundle of the resources (fullUrl = ``Type/id``)."""
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r}
                      for r in resources]}
