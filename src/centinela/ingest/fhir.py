"""HL7 FHIR R4 intake: Bundles and NDJSON of medication resources → reporting-format records.

FHIR is an adapter in front of the one intake path: every resource is validated with the
maintained model library ``fhir.resources`` (its R4B models, which are wire-compatible with R4
for the resources read here), mapped to the records of the reporting format (establishments,
professionals, products, movements) and then goes through the same validation, quarantine with
reasons, idempotency and pseudonyms as a CSV file (``ingest.service.run_import``). A resource
that is not valid FHIR, is not one Centinela reads, or cannot be mapped is a rejected record
with its position (``Bundle.entry[i]`` / NDJSON line) and reason; nothing is dropped silently.

The identifier systems and extensions are listed in ``docs/fhir.md``.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from centinela.ingest.fields import SPECS
from centinela.ingest.readers import Item
from centinela.ingest.values import Invalid

SYS = "urn:centinela:"
EST = SYS + "establishment"
PRO = SYS + "professional"
PRODUCT = SYS + "product"
GTIN = "https://www.gs1.org/gtin"
EVENT = SYS + "event"
FORM = SYS + "prescription-form"
SUBSTANCE = SYS + "substance"
KIND = SYS + "establishment-kind"
SECTOR = SYS + "sector"
DOSAGE_FORM = SYS + "dosage-form"
SPECIALTY = SYS + "specialty"
CERTIFICATE = SYS + "opioid-competency"
RUC = "urn:pe:sunat:ruc"
PATIENT_SYSTEMS = {"urn:pe:dni": "DNI", "urn:pe:ce": "CE", "urn:pe:pas": "PAS",
                   SYS + "psn": "PSN"}
EXT = SYS + "ext:"
EXT_UBIGEO = EXT + "ubigeo"
EXT_AUTHORIZED = EXT + "authorized-controlled"
EXT_AUTH_EXPIRES = EXT + "authorization-expires"
EXT_ESTABLISHMENT = EXT + "establishment"
EXT_SERIAL = EXT + "serial"
EXT_GS1 = EXT + "gs1-scan"

SUPPORTED = ("Bundle", "MedicationDispense", "MedicationAdministration", "MedicationRequest",
             "Medication", "Organization", "Practitioner", "Patient", "Encounter")
MOVEMENT_RESOURCES = ("MedicationDispense", "MedicationAdministration")
GENDER = {"female": "F", "male": "M", "other": "X", "unknown": "X"}


class FhirError(Exception):
    """The input is not a FHIR Bundle or NDJSON of resources at all."""


# --- validation with fhir.resources, once per resource shape -------------------------------


def _model(resource_type: str):
    import importlib

    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


_DIGITS = str.maketrans("0123456789", "9999999999")
# FHIR R4 dateTime (which also covers date and instant layouts), with the value ranges.
_DATETIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|"
    r"3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?)?)?"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)?)?)?")
_ID_CHARS = re.compile(r"[A-Za-z0-9\-.]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SPACE = re.compile(r"\s")
_SHAPES: dict[str, tuple] = {}


def _string_shape(value: str) -> tuple:
    """What the FHIR primitive patterns can tell apart about a string.

    A valid date or dateTime keeps its layout (digits as 9: a date field refuses a dateTime);
    any other string keeps its length class and the character facts that the id, code, uri and
    string patterns test (only id characters, whitespace, leading/trailing or doubled spaces,
    control characters).
    """
    hit = _SHAPES.get(value)
    if hit is not None:
        return hit
    if value[:1].isdigit() and _DATETIME.fullmatch(value):
        out: tuple = ("d", value.translate(_DIGITS))
    else:
        n = len(value)
        out = ("s", 0 if n == 0 else 1 if n <= 64 else 2 if n <= 1_048_576 else 3,
               _ID_CHARS.fullmatch(value) is not None, _SPACE.search(value) is not None,
               value != value.strip(), "  " in value, _CONTROL.search(value) is not None)
    if len(_SHAPES) < 200_000 and len(value) <= 64:
        _SHAPES[value] = out
    return out


def _shape(value: Any) -> Any:
    """The structure of a JSON value as the FHIR validator sees it.

    Two resources of the same shape have the same keys, list lengths and JSON types everywhere,
    and strings that the FHIR primitive patterns accept or refuse alike (``_string_shape``), so
    ``fhir.resources`` accepts both or neither. Numbers keep their sign (positiveInt,
    unsignedInt).
    """
    if isinstance(value, dict):
        return tuple((k, _shape(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("[",) + tuple(_shape(v) for v in value)
    if isinstance(value, str):
        return _string_shape(value)
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return ("i", (value > 0) - (value < 0))
    if isinstance(value, float):
        return ("f", (value > 0) - (value < 0))
    return "n"


class Validator:
    """Validate resources with ``fhir.resources``; a shape seen valid is not re-validated."""

    def __init__(self) -> None:
        self._ok: set = set()
        self._models: dict[str, Any] = {}

    def check(self, resource: dict) -> str | None:
        """Return ``None`` when valid, else a short reason naming the bad element."""
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            return "falta resourceType / resourceType is missing"
        if rtype not in SUPPORTED or rtype == "Bundle":
            return (f"recurso {rtype!r} no admitido / resource type {rtype[:40]!r} is not read by "
                    f"Centinela (supported: {', '.join(SUPPORTED[1:])})")
        key = _shape(resource)
        if key in self._ok:
            return None
        model = self._models.get(rtype) or self._models.setdefault(rtype, _model(rtype))
        try:
            model.model_validate(resource)
        except Exception as exc:  # pydantic.ValidationError, or a library error on odd input
            return _describe(exc)
        if len(self._ok) < 100_000:
            self._ok.add(key)
        return None


# Spanish for the validation errors a FHIR file most often has (pydantic's error ``type``);
# the library's own English message follows it.
_ERRORS_ES = {
    "missing": "falta un elemento obligatorio",
    "extra_forbidden": "elemento que FHIR R4 no define aquí",
    "string_pattern_mismatch": "valor que no cumple el formato de FHIR",
    "string_too_long": "valor demasiado largo",
    "literal_error": "valor no permitido",
    "enum": "valor no permitido",
}


def _spanish(kind: str, msg: str) -> str:
    if kind == "value_error" and ("regex" in msg or "pattern" in msg):
        return _ERRORS_ES["string_pattern_mismatch"]  # fhir.resources' own format checks
    if kind in _ERRORS_ES:
        return _ERRORS_ES[kind]
    if kind.endswith("_parsing"):
        return "valor con formato incorrecto"
    if kind.endswith("_type"):
        return "tipo de valor incorrecto"
    return "valor no válido"


def _describe(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__")
            where = where or "resource"
            msg = str(first.get("msg", ""))[:160]
            es = _spanish(str(first.get("type", "")), msg)
            return f"FHIR no válido en {where}: {es} / invalid FHIR at {where}: {msg}"
        except Exception:  # noqa: BLE001 - fall back to the plain text
            pass
    return f"FHIR no válido / invalid FHIR: {str(exc).splitlines()[0][:200]}"


# --- reading --------------------------------------------------------------------------------


@dataclass
class Entry:
    """One resource of the input with where it came from (for messages)."""

    position: int
    where: str
    resource: dict | None
    error: str | None = None
    full_url: str | None = None


def _loads(text: str | bytes):
    """Parse JSON with orjson (several times faster on national bundles), falling back to the
    standard library for what orjson refuses but JSON allows (integers past 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def read_entries(data: bytes | str, name: str = "bundle") -> list[Entry]:
    """Read a Bundle (JSON) or NDJSON (one resource a line) into entries."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        raise FhirError(f"{name}: vacío / empty")
    if stripped.startswith("{"):
        try:
            obj = _loads(stripped)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            if obj.get("resourceType") == "Bundle":
                return bundle_entries(obj)
            return [Entry(1, "línea/line 1", obj)]
    return _ndjson(text)


def bundle_entries(bundle: dict) -> list[Entry]:
    """Entries of a parsed Bundle (any type: collection, batch, transaction)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError("no es un Bundle FHIR / not a FHIR Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirError("Bundle.entry debe ser una lista / Bundle.entry must be a list")
    out = []
    for i, e in enumerate(entries):
        where = f"Bundle.entry[{i}]"
        res = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(res, dict):
            out.append(Entry(i + 1, where, None, "entrada sin recurso / entry without a resource"))
            continue
        full = e.get("fullUrl") if isinstance(e.get("fullUrl"), str) else None
        out.append(Entry(i + 1, where, res, None, full))
    return out


def _ndjson(text: str) -> list[Entry]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"línea/line {n}"
        try:
            obj = _loads(line)
        except ValueError as exc:
            out.append(Entry(n, where, None, f"JSON no válido / invalid JSON: {str(exc)[:80]}"))
            continue
        if not isinstance(obj, dict):
            out.append(Entry(n, where, None, "cada línea debe ser un recurso FHIR / each line "
                                             "must be a FHIR resource"))
            continue
        out.append(Entry(n, where, obj))
    if not any(e.resource is not None for e in out):
        first = out[0].error if out else "empty"
        raise FhirError(f"ningún recurso FHIR / no FHIR resource found ({first})")
    return out


# --- mapping --------------------------------------------------------------------------------


@dataclass
class Mapped:
    """Reporting-format records (as items for the pipeline) from one FHIR input."""

    items: dict[str, list[Item]] = field(default_factory=lambda: {k: [] for k in SPECS})
    bundle: bool = True  # a Bundle (positions are entries) or NDJSON (positions are lines)


def _ident(identifiers: Any, system: str) -> str | None:
    for ident in identifiers or ():
        if isinstance(ident, dict) and ident.get("system") == system and ident.get("value"):
            return str(ident["value"]).strip()
    return None


def _coding(concept: Any, system: str) -> str | None:
    if not isinstance(concept, dict):
        return None
    for c in concept.get("coding") or ():
        if isinstance(c, dict) and c.get("system") == system and c.get("code"):
            return str(c["code"]).strip()
    return None


def _ext(resource: Any, url: str) -> Any:
    for e in (resource or {}).get("extension") or ():
        if isinstance(e, dict) and e.get("url") == url:
            for k, v in e.items():
                if k.startswith("value"):
                    return v
    return None


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return repr(v)
    return str(v).strip()


class Resolver:
    """Find the resource a Reference points to (``Type/id``, ``urn:uuid:``, contained ``#id``)."""

    def __init__(self, entries: list[Entry]) -> None:
        self.by_key: dict[str, dict] = {}
        for e in entries:
            r = e.resource
            if not isinstance(r, dict):
                continue
            rid, rtype = r.get("id"), r.get("resourceType")
            if isinstance(rid, str) and isinstance(rtype, str):
                self.by_key[f"{rtype}/{rid}"] = r
            if e.full_url:
                self.by_key[e.full_url] = r

    def get(self, ref: Any, holder: dict | None = None) -> dict | None:
        if not isinstance(ref, dict):
            return None
        target = ref.get("reference")
        if not isinstance(target, str):
            return None
        if target.startswith("#") and holder is not None:
            for c in holder.get("contained") or ():
                if isinstance(c, dict) and c.get("id") == target[1:]:
                    return c
            return None
        return self.by_key.get(target) or self.by_key.get(target.split("/_history")[0])


def _ref_id(ref: Any, resolver: Resolver, system: str, holder: dict | None = None,
            want: str | None = None) -> str | None:
    """The business id behind a Reference: its identifier, or the referenced resource's."""
    if not isinstance(ref, dict):
        return None
    ident = ref.get("identifier")
    if isinstance(ident, dict) and ident.get("system") == system and ident.get("value"):
        return str(ident["value"]).strip()
    target = resolver.get(ref, holder)
    if target is not None and (want is None or target.get("resourceType") == want):
        return _ident(target.get("identifier"), system)
    return None


def _patient(subject: Any, resolver: Resolver, holder: dict) -> tuple[str, str, str, str]:
    """Document (``DNI:…`` or ``PSN:…``), sex, birth year and district of the subject."""
    doc, sex, year, ubg = "", "", "", ""
    if not isinstance(subject, dict):
        return doc, sex, year, ubg
    idents = [subject["identifier"]] if isinstance(subject.get("identifier"), dict) else []
    patient = resolver.get(subject, holder)
    if patient is not None and patient.get("resourceType") == "Patient":
        idents += [i for i in patient.get("identifier") or () if isinstance(i, dict)]
        sex = GENDER.get(str(patient.get("gender") or ""), "")
        birth = patient.get("birthDate")
        if isinstance(birth, str) and len(birth) >= 4:
            year = birth[:4]
        for addr in patient.get("address") or ():
            code = _ext(addr, EXT_UBIGEO)
            if code:
                ubg = str(code)
                break
    for ident in idents:
        prefix = PATIENT_SYSTEMS.get(str(ident.get("system")))
        if prefix and ident.get("value"):
            doc = f"{prefix}:{str(ident['value']).strip()}"
            break
    return doc, sex, year, ubg


def _organization(r: dict) -> dict | None:
    est = _ident(r.get("identifier"), EST)
    kind = next((c for t in r.get("type") or () if (c := _coding(t, KIND))), None)
    sector = next((c for t in r.get("type") or () if (c := _coding(t, SECTOR))), None)
    ubg = None
    for addr in r.get("address") or ():
        ubg = _ext(addr, EXT_UBIGEO) or ubg
    authorized = _ext(r, EXT_AUTHORIZED)
    if not (est and kind and sector and ubg and authorized is not None):
        return None  # a reference target only: the establishment must be registered already
    return {"establishment_id": est, "name": r.get("name") or est, "kind": kind,
            "sector": sector, "ubigeo": ubg, "ruc": _ident(r.get("identifier"), RUC) or "",
            "authorized_controlled": _text(authorized),
            "authorization_expires": _text(_ext(r, EXT_AUTH_EXPIRES))}


def _practitioner(r: dict) -> dict | None:
    pid = _ident(r.get("identifier"), PRO)
    if not pid:
        return None
    names = r.get("name") or []
    full = ""
    if names and isinstance(names[0], dict):
        n = names[0]
        full = n.get("text") or " ".join([*(n.get("given") or []), n.get("family") or ""])
    from centinela.ingest.fields import PROFESSIONAL_PREFIXES

    role = PROFESSIONAL_PREFIXES.get(pid.split("-", 1)[0].upper(), "")
    rec = {"professional_id": pid, "role": role, "full_name": full.strip() or pid}
    workplace = _ext(r, EXT_ESTABLISHMENT)
    if isinstance(workplace, dict) and workplace.get("system") == EST:
        rec["establishment_id"] = str(workplace.get("value") or "")
    for addr in r.get("address") or ():
        if _ext(addr, EXT_UBIGEO):
            rec["ubigeo"] = str(_ext(addr, EXT_UBIGEO))
    for q in r.get("qualification") or ():
        if not isinstance(q, dict):
            continue
        spec = _coding(q.get("code"), SPECIALTY)
        if spec:
            rec["specialty"] = spec
        if _coding(q.get("code"), CERTIFICATE) is not None:
            period = q.get("period") or {}
            rec["opioid_certified_on"] = str(period.get("start") or "")[:10]
            rec["certificate_id"] = _ident(q.get("identifier"), CERTIFICATE) or ""
    return rec


def _medication(r: dict) -> dict | None:
    code = _coding(r.get("code"), PRODUCT) or _coding(r.get("code"), GTIN)
    substance, strength = None, None
    for ing in r.get("ingredient") or ():
        if not isinstance(ing, dict):
            continue
        substance = _coding(ing.get("itemCodeableConcept"), SUBSTANCE) or substance
        num = (ing.get("strength") or {}).get("numerator") or {}
        if str(num.get("code") or num.get("unit") or "").lower() == "mg":
            strength = num.get("value")
    form = _coding(r.get("form"), DOSAGE_FORM)
    if not (code and substance and form and strength is not None):
        return None
    return {"product_code": code, "name": (r.get("code") or {}).get("text") or code,
            "substance": substance, "dosage_form": form,
            "strength_mg_per_unit": _text(strength),
            "patch_mcg_per_hour": _text(_ext(r, EXT + "patch-mcg-per-hour")),
            "units_per_pack": _text(_ext(r, EXT + "units-per-pack")),
            "gtin": _coding(r.get("code"), GTIN) or ""}


def _product_of(r: dict, resolver: Resolver) -> tuple[str, str, str, float | None]:
    """Product code, lot, expiry and mg per unit (when the Medication says) of a movement."""
    med = None
    concept = r.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        code = _coding(concept, PRODUCT) or _coding(concept, GTIN)
        return code or "", "", "", None
    med = resolver.get(r.get("medicationReference"), r)
    if med is None:
        ident = (r.get("medicationReference") or {}).get("identifier")
        if isinstance(ident, dict) and ident.get("system") in (PRODUCT, GTIN):
            return str(ident.get("value") or ""), "", "", None
        return "", "", "", None
    code = _coding(med.get("code"), PRODUCT) or _coding(med.get("code"), GTIN) or ""
    batch = med.get("batch") or {}
    strength = None
    for ing in med.get("ingredient") or ():
        num = ((ing or {}).get("strength") or {}).get("numerator") or {}
        if str(num.get("code") or num.get("unit") or "").lower() == "mg":
            strength = num.get("value")
    return (code, str(batch.get("lotNumber") or ""), str(batch.get("expirationDate") or ""),
            float(strength) if isinstance(strength, int | float) and strength > 0 else None)


def _prescription(refs: Any, resolver: Resolver, holder: dict,
                  by_id: bool = True) -> tuple[str, str]:
    """Special prescription form number and prescriber of the first authorizing request.

    Without a form identifier the request's own id stands for the form when ``by_id``.
    """
    for ref in refs if isinstance(refs, list) else [refs]:
        if not isinstance(ref, dict):
            continue
        ident = ref.get("identifier")
        form = ident.get("value") if isinstance(ident, dict) and ident.get("system") == FORM \
            else None
        req = resolver.get(ref, holder)
        prescriber = ""
        if req is not None and req.get("resourceType") == "MedicationRequest":
            form = form or _ident(req.get("identifier"), FORM) or (req.get("id") if by_id
                                                                    else None)
            prescriber = _ref_id(req.get("requester"), resolver, PRO, req, "Practitioner") or ""
        if form or prescriber:
            return str(form or ""), prescriber
    return "", ""


def _establishment(r: dict, resolver: Resolver) -> str:
    ext = _ext(r, EXT_ESTABLISHMENT)
    if isinstance(ext, dict):
        if ext.get("system") == EST and ext.get("value"):  # valueIdentifier
            return str(ext["value"])
        found = _ref_id(ext, resolver, EST, r, "Organization")  # valueReference
        if found:
            return found
    for p in r.get("performer") or ():
        found = _ref_id((p or {}).get("actor"), resolver, EST, r, "Organization")
        if found:
            return found
    enc = resolver.get(r.get("context"), r)
    if enc is not None and enc.get("resourceType") == "Encounter":
        return _ref_id(enc.get("serviceProvider"), resolver, EST, enc, "Organization") or ""
    return ""


def _performer(r: dict, resolver: Resolver) -> str:
    for p in r.get("performer") or ():
        found = _ref_id((p or {}).get("actor"), resolver, PRO, r, "Practitioner")
        if found:
            return found
    return ""


def _dispense(r: dict, resolver: Resolver) -> dict:
    product, lot, expiry, _ = _product_of(r, resolver)
    form, prescriber = _prescription(r.get("authorizingPrescription"), resolver, r)
    doc, sex, year, ubg = _patient(r.get("subject"), resolver, r)
    qty = (r.get("quantity") or {}).get("value")
    days = (r.get("daysSupply") or {}).get("value")
    return {
        "event_id": _ident(r.get("identifier"), EVENT) or r.get("id") or "",
        "event_type": "dispense", "occurred_at": r.get("whenHandedOver") or "",
        "establishment_id": _establishment(r, resolver), "product_code": product,
        "quantity": _text(qty), "lot": lot, "expiry": expiry,
        "serial": _text(_ext(r, EXT_SERIAL)), "prescription_id": form,
        "prescriber_id": prescriber, "professional_id": _performer(r, resolver),
        "patient_id": doc, "patient_sex": sex, "patient_birth_year": year,
        "patient_ubigeo": ubg, "days_supply": _text(days),
        "gs1_scan": _text(_ext(r, EXT_GS1)),
    }


def _administration(r: dict, resolver: Resolver) -> dict:
    product, lot, expiry, mg_per_unit = _product_of(r, resolver)
    form, prescriber = _prescription(r.get("request"), resolver, r, by_id=False)
    doc, sex, year, ubg = _patient(r.get("subject"), resolver, r)
    dose = ((r.get("dosage") or {}).get("dose") or {})
    qty = dose.get("value")
    unit = str(dose.get("code") or dose.get("unit") or "").lower()
    if unit == "mg" and isinstance(qty, int | float):
        # A dose in mg becomes units of the product (the reporting format counts units).
        qty = round(qty / mg_per_unit, 6) if mg_per_unit else None
    when = r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("end") or ""
    return {
        "event_id": _ident(r.get("identifier"), EVENT) or r.get("id") or "",
        "event_type": "administer", "occurred_at": when,
        "establishment_id": _establishment(r, resolver), "product_code": product,
        "quantity": _text(qty), "lot": lot, "expiry": expiry,
        "serial": _text(_ext(r, EXT_SERIAL)), "prescription_id": form,
        "prescriber_id": prescriber,
        "professional_id": _performer(r, resolver), "patient_id": doc, "patient_sex": sex,
        "patient_birth_year": year, "patient_ubigeo": ubg,
        "gs1_scan": _text(_ext(r, EXT_GS1)),
    }


REGISTRY_MAPPERS = {"Organization": ("establishments", _organization),
                    "Practitioner": ("professionals", _practitioner),
                    "Medication": ("products", _medication)}
COMPLETED = "completed"


def map_entries(entries: list[Entry], validator: Validator | None = None) -> Mapped:
    """Validate and map entries to reporting-format items (rejections included as items)."""
    validator = validator or Validator()
    resolver = Resolver(entries)
    out = Mapped()
    seen_registry: set[tuple[str, str]] = set()
    for e in entries:
        out.bundle = e.where.startswith("Bundle")
        if e.error or e.resource is None:
            out.items["movements"].append(_bad(e, e.error or "sin recurso / no resource"))
            continue
        r = e.resource
        problem = validator.check(r)
        rtype = r.get("resourceType")
        if problem:
            out.items["movements"].append(_bad(e, problem))
            continue
        if rtype in MOVEMENT_RESOURCES:
            status = r.get("status")
            if status != COMPLETED:
                out.items["movements"].append(_bad(
                    e, f"estado {status!r}: solo se registran movimientos completados / status "
                       f"{status!r}: only completed {rtype} resources are movements", "status"))
                continue
            rec = _dispense(r, resolver) if rtype == "MedicationDispense" \
                else _administration(r, resolver)
            out.items["movements"].append(_item(e, rec, "movements"))
        elif rtype in REGISTRY_MAPPERS:
            record_type, mapper = REGISTRY_MAPPERS[rtype]
            rec = mapper(r)
            if rec is None:
                continue  # a reference target only (documented): nothing to register
            key = (record_type, next(iter(rec.values())))
            if key in seen_registry:
                continue  # the same Organization or Medication repeated in one bundle
            seen_registry.add(key)
            out.items[record_type].append(_item(e, rec, record_type))
        # MedicationRequest, Patient and Encounter only feed the movements that cite them.
    return out


_FIELDS = {name: spec.fields for name, spec in SPECS.items()}


def _item(e: Entry, rec: dict, record_type: str) -> Item:
    """The values tuple of a mapped record, in spec order (the mappers only write spec fields,
    as text), exactly as a JSON Lines reader would give it."""
    get = rec.get
    return e.position, tuple((get(f) or "").strip() if isinstance(get(f), str)
                             else "" if get(f) is None else str(get(f))
                             for f in _FIELDS[record_type]), None, None


def _bad(e: Entry, reason: str, fld: str | None = None) -> Item:
    raw = {"where": e.where}
    if isinstance(e.resource, dict):
        raw["resourceType"] = str(e.resource.get("resourceType"))[:40]
        raw["id"] = str(e.resource.get("id"))[:64]
    return e.position, None, Invalid(fld, f"{e.where}: {reason}"), raw


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """FHIR files named directly or found in folders (``*.json``, ``*.ndjson``)."""
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.iterdir()
                              if x.suffix.lower() in (".json", ".ndjson") and x.is_file())
        else:
            yield p


# --- importing through the one intake path ---------------------------------------------------


def import_fhir(engine, files: list[tuple[str, bytes]], channel: str = "fhir",
                submitted_by: str | None = None, now=None, realtime: bool = True):
    """Import FHIR files (Bundles or NDJSON) in one transaction; return the ImportReport.

    Raises ``FhirError`` when a file is not FHIR at all (nothing imported).
    """
    from centinela.ingest.service import Source, run_import, run_realtime
    from centinela.lib.clock import utcnow

    now = now or utcnow()
    with _bulk_allocation():
        report = _import_fhir(engine, files, channel, submitted_by, now, Source, run_import)
    if realtime:  # the real-time rules run with the collector back on
        report.realtime = run_realtime(engine, report.import_id, now)
    return report


@contextmanager
def _bulk_allocation():
    """Pause the cyclic garbage collector while a bundle is parsed, mapped and inserted.

    A national bundle creates millions of small, acyclic containers; with the collector on,
    its passes over the growing heap cost more than the parsing itself (4× on 10,000
    dispenses). Reference counting still frees everything; the collector resumes after.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _import_fhir(engine, files, channel, submitted_by, now, Source, run_import):
    validator = Validator()
    sources = []
    per_file: list[tuple[str, Mapped]] = []
    for name, data in files:
        mapped = map_entries(read_entries(data, name), validator)
        per_file.append((name, mapped))
    for record_type in SPECS:  # registry first, then movements, as in a directory import
        for name, mapped in per_file:
            items = mapped.items.get(record_type) or []
            if items:
                sources.append(Source(f"{name}#{record_type}", record_type, prepared=items))
    if not sources:
        raise FhirError("ningún recurso que importar / no resource to import")
    label = "fhir: " + ", ".join(n for n, _ in files)
    report = run_import(engine, label[:500], channel, sources, submitted_by, now, [], False)
    report.fhir_bundles = {n: m.bundle for n, m in per_file}  # for operation_outcome
    return report


def operation_outcome(report, rejections: list[dict], limit: int = 1000) -> dict:
    """The FHIR answer to an import: one issue per rejected resource, then the totals."""
    issues = []
    for r in rejections[:limit]:
        source = str(r.get("source") or "")
        line = r.get("line")
        name = source.split("#")[0]
        bundles = getattr(report, "fhir_bundles", {})
        expression = ([f"Bundle.entry[{line - 1}]" if bundles.get(name, True)
                       else f"{name}: line {line}"] if isinstance(line, int) else [])
        issues.append({
            "severity": "error",
            "code": "conflict" if r.get("kind") == "conflict" else "invalid",
            "diagnostics": str(r.get("reason") or "")[:500],
            **({"expression": expression} if expression else {}),
        })
    if len(rejections) > limit:
        issues.append({"severity": "warning", "code": "too-costly",
                       "diagnostics": f"{len(rejections) - limit} more rejections: see "
                                      f"/api/v1/imports/{report.import_id}/rejections"})
    totals = report.as_dict().get("totals", {})
    issues.append({"severity": "information", "code": "informational",
                   "diagnostics": f"import {report.import_id}: " + ", ".join(
                       f"{k} {v}" for k, v in totals.items())})
    return {"resourceType": "OperationOutcome", "issue": issues}
