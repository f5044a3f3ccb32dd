"""Intake of registry records: validate, then insert new, update changed, skip identical.

Registry files are small (thousands of rows), so the current registry is read once into a dict;
a licence renewal or a new certificate arrives as a changed record and is counted as updated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from centinela.ingest.fields import PROFESSIONAL_PREFIXES, RecordSpec
from centinela.ingest.readers import Item
from centinela.ingest.report import FileReport
from centinela.ingest.values import (
    Invalid,
    check_enum,
    parse_bool,
    parse_date,
    parse_int,
    parse_number,
    show,
    unknown_ubigeo,
)
from centinela.reference import ubigeo
from centinela.registry.models import (
    DOSAGE_FORMS,
    ESTABLISHMENT_KINDS,
    PROFESSIONAL_ROLES,
    SECTORS,
    Establishment,
    Product,
    Professional,
)

MODELS = {"establishments": Establishment, "professionals": Professional, "products": Product}
_PRO_ID = re.compile(r"^(CMP|COP|CQFP|CEP)-\d{1,8}$")
_RUC = re.compile(r"^\d{11}$")
_SUBSTANCE = re.compile(r"^[a-z][a-z0-9 ()-]*$")


def _common(spec: RecordSpec, v: tuple) -> None:
    for name, value in zip(spec.fields, v, strict=True):
        if not value and name in spec.required:
            raise Invalid(name, "obligatorio / required")
        limit = spec.max_len.get(name)
        if limit and len(value) > limit:
            raise Invalid(name, f"demasiado largo / longer than {limit} characters")


def _ubigeo(name: str, value: str) -> str:
    if not ubigeo.is_valid(value):
        raise Invalid(name, unknown_ubigeo(value))
    return value


def check_establishment(spec: RecordSpec, v: tuple, ctx) -> tuple:
    """Validate an establishment; return its values in spec order."""
    _common(spec, v)
    est_id, name, kind, sector, ubg, ruc, authorized, expires = v
    check_enum("kind", kind, ESTABLISHMENT_KINDS)
    check_enum("sector", sector, SECTORS)
    _ubigeo("ubigeo", ubg)
    if ruc and not _RUC.match(ruc):
        raise Invalid("ruc", f"el RUC tiene 11 dígitos / RUC must be 11 digits: {show(ruc)}")
    return (est_id, name, kind, sector, ubg, ruc or None, parse_bool("authorized_controlled",
            authorized), parse_date("authorization_expires", expires) if expires else None)


def check_professional(spec: RecordSpec, v: tuple, ctx) -> tuple:
    """Validate a professional; return its values in spec order."""
    _common(spec, v)
    pro_id, role, full_name, specialty, est, ubg, certified, certificate = v
    m = _PRO_ID.match(pro_id)
    if not m:
        raise Invalid("professional_id", "número de colegiatura con prefijo / must be a college "
                                         "number with prefix CMP-, COP-, CQFP- or CEP- and digits: "
                                         f"{show(pro_id)}")
    check_enum("role", role, PROFESSIONAL_ROLES)
    expected = PROFESSIONAL_PREFIXES[m.group(1)]
    if role != expected:
        raise Invalid("role", f"{m.group(1)}- corresponde a {expected} / a {m.group(1)}- number "
                              f"belongs to role {expected}, not {role}")
    if est and est not in ctx.known.establishments:
        raise Invalid("establishment_id", f"establecimiento no registrado / unknown establishment "
                                          f"{show(est)}")
    if ubg:
        _ubigeo("ubigeo", ubg)
    return (pro_id, role, full_name, specialty or None, est or None, ubg or None,
            parse_date("opioid_certified_on", certified) if certified else None,
            certificate or None)


def check_product(spec: RecordSpec, v: tuple, ctx) -> tuple:
    """Validate a product; return its values in spec order."""
    _common(spec, v)
    code, name, substance, form, strength, patch, per_pack, gtin = v
    substance = substance.lower()
    if not _SUBSTANCE.match(substance):
        raise Invalid("substance", f"DCI en minúsculas / INN in lower case expected: "
                                   f"{show(substance)}")
    check_enum("dosage_form", form, DOSAGE_FORMS)
    mg = parse_number("strength_mg_per_unit", strength)
    if mg <= 0:
        raise Invalid("strength_mg_per_unit", f"debe ser positiva / must be positive: {show(strength)}")
    rate = parse_number("patch_mcg_per_hour", patch) if patch else None
    if rate is not None and rate <= 0:
        raise Invalid("patch_mcg_per_hour", f"debe ser positiva / must be positive: {show(patch)}")
    units = parse_int("units_per_pack", per_pack, 1, 1_000_000) if per_pack else None
    return (code, name, substance, form, mg, rate, units, _gtin(gtin) if gtin else None)


def _gtin(value: str) -> str:
    from biip.gtin import Gtin

    from centinela.ingest.gs1 import normalize_gtin

    try:
        Gtin.parse(value)
    except Exception:  # biip's ParseError: wrong length, not digits, bad check digit
        raise Invalid("gtin", f"GTIN inválido (8, 12, 13 o 14 dígitos con dígito de control) / "
                              f"invalid GTIN (8, 12, 13 or 14 digits with check digit): "
                              f"{show(value)}") from None
    return normalize_gtin(value)


CHECKERS: dict[str, Callable] = {
    "establishments": check_establishment,
    "professionals": check_professional,
    "products": check_product,
}


def _existing(session: Session, spec: RecordSpec) -> dict[str, tuple]:
    model = MODELS[spec.name]
    cols = [getattr(model, f) for f in spec.fields]
    return {row[0]: tuple(row) for row in session.execute(select(*cols))}


def _derived(spec: RecordSpec, values: tuple, ctx) -> dict:
    row = dict(zip(spec.fields, values, strict=True))
    if spec.name == "establishments":
        row["department"] = values[4][:2]
    elif spec.name == "professionals":
        ubg, est = row["ubigeo"], row["establishment_id"]
        row["department"] = ubg[:2] if ubg else ctx.est_departments.get(est) if est else None
    row["import_id"] = ctx.import_id
    return row


def process_registry(ctx, spec: RecordSpec, items: Iterable[Item], fr: FileReport) -> None:
    """Validate registry records and upsert them (identical → no-op, changed → updated)."""
    check = CHECKERS[spec.name]
    existing = ctx.registry_cache.get(spec.name)
    if existing is None:
        existing = ctx.registry_cache[spec.name] = _existing(ctx.session, spec)
    seen: dict[str, tuple] = ctx.registry_cache.setdefault(spec.name + ":seen", {})
    new: list[dict] = []
    changed: list[dict] = []
    for line, vals, err, raw in items:
        fr.read += 1
        if vals is None:
            ctx.reject(fr, line, spec.name, None, err, raw)
            continue
        try:
            values = check(spec, vals, ctx)
        except Invalid as exc:
            ctx.reject(fr, line, spec.name, vals[0], exc, dict(zip(spec.fields, vals, strict=True)))
            continue
        key = values[0]
        old = existing.get(key)
        if spec.name == "professionals" and old is not None and key not in seen:
            values = _keep_certificate(old, values)
            if _another_person(old[2], values[2]):
                ctx.reject(fr, line, spec.name, key, Invalid(
                    "full_name", f"la colegiatura {key} está registrada a nombre de otra persona "
                                 f"/ college number {key} is registered to another person (the "
                                 "names share no word): correct the number; a college number "
                                 "belongs to one person for life"),
                    dict(zip(spec.fields, values, strict=True)), kind="conflict")
                continue
        if key in seen:
            if seen[key] == values:
                fr.duplicates += 1
            else:
                ctx.reject(fr, line, spec.name, key, Invalid(
                    spec.key, f"{spec.key} repetido en esta importación con otro contenido / "
                              f"{spec.key} appears twice in this import with different content"),
                    dict(zip(spec.fields, values, strict=True)), kind="conflict")
            continue
        seen[key] = values
        if old == values:
            fr.duplicates += 1
        elif old is None:
            new.append(_derived(spec, values, ctx))
            fr.accepted += 1
        else:
            changed.append(_derived(spec, values, ctx))
            fr.updated += 1
            fr.add_change(key, [f for f, a, b in zip(spec.fields, old, values, strict=True)
                                if a != b])
        existing[key] = values
        _remember(ctx, spec.name, values)
    _write(ctx.session, spec, new, changed)


def _keep_certificate(old: tuple, values: tuple) -> tuple:
    """A professional re-sent with both certificate fields empty keeps the stored certificate.

    A certificate ends on its own (one year) or is revoked through the certification
    programme; a registry extract that leaves the columns empty (another source, an older
    export) must not silently make a certified professional look uncertified."""
    if (old[6] or old[7]) and values[6] is None and values[7] is None:
        return values[:6] + old[6:8]
    return values


_NAME_FILLER = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "van", "von", "dr",
                          "dra", "lic", "qf", "obst"})


def _another_person(old_name: str, new_name: str) -> bool:
    """True when two full names share no word (accents, case and particles aside): the same
    college number sent for someone else, not a corrected accent, an added surname or a
    married name."""
    from centinela.lib.text import fold

    def words(name: str) -> set[str]:
        return {w for w in re.split(r"[^a-zñ]+", fold(name)) if len(w) > 1
                and w not in _NAME_FILLER}

    a, b = words(old_name), words(new_name)
    return bool(a and b and not a & b)


def _remember(ctx, name: str, values: tuple) -> None:
    if name == "establishments":
        ctx.known.establishments.add(values[0])
        ctx.est_departments[values[0]] = values[4][:2]
    elif name == "professionals":
        ctx.known.professionals.add(values[0])
    else:
        ctx.known.products.add(values[0])
        if values[7]:
            ctx.known.gtins[values[0]] = values[7]


def _write(session: Session, spec: RecordSpec, new: list[dict], changed: list[dict]) -> None:
    model = MODELS[spec.name]
    if new:
        # Upsert, not insert: another import of the same registry may commit the same keys
        # between our read of the existing rows and this write (PostgreSQL then waits on the
        # key and updates instead of failing). Sorted keys: two imports lock rows in one order.
        new = sorted(new, key=lambda r: r[spec.key])
        table = model.__table__
        upsert = (pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert)(table)
        cols = [c for c in new[0] if c != spec.key]
        stmt = upsert.on_conflict_do_update(
            index_elements=[spec.key], set_={c: upsert.excluded[c] for c in cols})
        for i in range(0, len(new), 5000):
            session.execute(stmt, new[i:i + 5000])
    if changed:
        pk = getattr(model.__table__.c, spec.key)
        cols = [c for c in changed[0] if c != spec.key]
        stmt = (update(model.__table__).where(pk == bindparam("_key"))
                .values({c: bindparam("v_" + c) for c in cols}))
        rows = [{**{"v_" + c: r[c] for c in cols}, "_key": r[spec.key]} for r in changed]
        for i in range(0, len(rows), 5000):
            session.connection().execute(stmt, rows[i:i + 5000])
