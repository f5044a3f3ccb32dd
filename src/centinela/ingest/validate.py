"""Validators of movement and seizure records: raw field tuple (spec order) → database row.

Built once per import as closures over precompiled lookups (sets of known ids and ubigeos) so
that a row costs a handful of dict lookups; no per-row queries and no ORM objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from centinela.ingest import gs1
from centinela.ingest.fields import (
    FRACTIONAL_EVENTS,
    MOVEMENTS,
    PATIENT_SEXES,
    REQUIRED_BY_EVENT,
    SEIZURE_CONTEXTS,
    SEIZURE_FORMS,
    SEIZURES,
)
from centinela.ingest.fields import (
    MOVEMENT_EVENT_TYPES as EVENT_TYPES,
)
from centinela.ingest.values import (
    Invalid,
    check_enum,
    parse_date,
    parse_int,
    parse_number,
    parse_time,
    patient_pseudonym,
    show,
    time_text,
    unknown_ubigeo,
)
from centinela.reference import ubigeo

MOVEMENT_COLUMNS = (
    "event_id", "event_type", "occurred_at", "establishment_id", "product_code", "quantity",
    "counterparty_id", "lot", "expiry", "serial", "prescription_id", "prescriber_id",
    "professional_id", "patient_id", "patient_sex", "patient_birth_year", "patient_ubigeo",
    "days_supply", "witness_id", "content_hash", "import_id",
)
SEIZURE_COLUMNS = (
    "seizure_id", "occurred_at", "ubigeo", "agency", "context", "substance", "smiles", "form",
    "units", "net_mass_mg", "purity_percent", "product_code", "lot", "serial", "content_hash",
    "import_id",
)
_COUNTERPARTY_CHECKED = frozenset({"receipt", "transfer_in", "transfer_out"})
MAX_UNITS = 1e9  # units (ampoules, patches, tablets) in one movement: far above any real one


@dataclass
class Known:
    """Ids known to the database or registered earlier in the same import."""

    establishments: set[str] = field(default_factory=set)
    professionals: set[str] = field(default_factory=set)
    products: set[str] = field(default_factory=set)
    pseudonyms: dict[str, str] = field(default_factory=dict)
    gtins: dict[str, str] = field(default_factory=dict)  # product_code → registered GTIN


def content_hash(values: tuple) -> str:
    """Hash normalized values (``3`` and ``3.0`` hash alike once parsed to floats)."""
    return hashlib.blake2b(repr(values).encode(), digest_size=16).hexdigest()


def make_movement_checker(known: Known, import_id: int, pseudonym_key: str | None = None,
                          copy_text: bool = False) -> Callable[[tuple], tuple]:
    """Return a function that validates one movement and returns its row (MOVEMENT_COLUMNS).

    ``pseudonym_key`` defaults to the configured key (a validating child process is given it).
    With ``copy_text`` the row comes as ``(line, key hash, month)``: the row as one line of
    PostgreSQL ``COPY … (NULL '')`` text (MOVEMENT_COLUMNS, tab-separated, newline ended; an
    empty value is NULL, as in the row tuple), ``hash((establishment_id, event_id))`` and ``YYYY-MM`` of its UTC time, for
    ``writer.MonthLoader``: the same values, only written by the process that validates.
    """
    import_text = str(import_id)
    events = {t: t for t in EVENT_TYPES}
    # Ids longer than their movement column never match (the row is then judged by
    # ``too_long``): a value that matches is within its limit.
    ests = {x: x for x in known.establishments if len(x) <= 40}
    pros = {x: x for x in known.professionals if len(x) <= 40}
    prods = {x: x for x in known.products if len(x) <= 40}
    gtins = known.gtins
    districts = {x: x for x in ubigeo.districts()}
    sexes = {x: x for x in PATIENT_SEXES}
    lots: dict[str, str] = {}
    minsecs = frozenset(f":{m:02d}:{s:02d}" for m in range(60) for s in range(60))
    cache = known.pseudonyms
    lengths = [(i, name, MOVEMENTS.max_len[name]) for i, name in enumerate(MOVEMENTS.fields)
               if name in MOVEMENTS.max_len]
    required_by_event = {k: [(MOVEMENTS.fields.index(f), f) for f in v]
                         for k, v in REQUIRED_BY_EVENT.items()}
    blake = hashlib.blake2b
    # Small bounded caches of already-validated values: a national file repeats the same
    # quantities, hours, expiry dates and birth years millions of times.
    qcache: dict[tuple[str, str], tuple[float, str]] = {}
    hours: dict[str, str] = {}
    # Whole reported times already converted: a file's rows share their minutes and seconds
    # far more often than not (a ward's rounds, a pharmacy's opening hours).
    whens: dict[str, str] = {}
    small: dict[str, dict[str, tuple[object, str]]] = {
        "expiry": {}, "patient_birth_year": {}, "days_supply": {}}
    expiries, births, supplies = small["expiry"], small["patient_birth_year"], small["days_supply"]

    def quantity_of(event_type: str, quantity: str) -> tuple[float, str]:
        if not quantity:
            raise Invalid("quantity", "obligatorio / required")
        q = parse_number("quantity", quantity)
        if q > MAX_UNITS:
            raise Invalid("quantity", f"cantidad fuera de rango / out of range, more than "
                                      f"{MAX_UNITS:.0e} units in one movement: {show(quantity)}")
        if event_type == "count":
            if q < 0:
                raise Invalid("quantity", f"un conteo no puede ser negativo / a count must be zero "
                                          f"or more: {show(quantity)}")
        elif q <= 0:
            raise Invalid("quantity", f"debe ser positiva / must be positive (the sign comes from "
                                      f"event_type): {show(quantity)}")
        if event_type not in FRACTIONAL_EVENTS and not q.is_integer():
            raise Invalid("quantity", f"fracciones solo en administer y waste / fractions are "
                                      f"allowed only for administer and waste: {show(quantity)}")
        if len(qcache) > 100_000:
            qcache.clear()
        out = qcache[(event_type, quantity)] = (q, repr(q))
        return out

    def time_of(value: str) -> str:
        when = _time_of(value)
        if len(whens) > 100_000:
            whens.clear()
        whens[value] = when
        return when

    def _time_of(value: str) -> str:
        # Fast path: Lima local time, with or without the -05:00 offset, whole seconds.
        n = len(value)
        if (n == 19 or (n == 25 and value.endswith("-05:00"))) and value[13:19] in minsecs:
            hour = hours.get(value[:13])
            if hour is None and value[10] in "T ":
                if len(hours) > 200_000:
                    hours.clear()
                try:
                    hour = hours[value[:13]] = time_text(
                        parse_time("occurred_at", value[:13] + ":00:00"))[:13]
                except Invalid:
                    hour = None  # told below about the value as written, not its hour
                    return time_text(parse_time("occurred_at", value))
            if hour is not None:
                return hour + value[13:19] + ".000000"
        if not value:
            raise Invalid("occurred_at", "obligatorio / required")
        return time_text(parse_time("occurred_at", value))

    def small_of(name: str, value: str) -> tuple[object, str]:
        if name == "expiry":
            x: object = parse_date(name, value).isoformat()
        elif name == "patient_birth_year":
            x = parse_int(name, value, 1880, 2100)
        else:
            x = parse_int(name, value, 1, 3650)
        cache_ = small[name]
        if len(cache_) > 50_000:
            cache_.clear()
        hit = cache_[value] = (x, str(x))
        return hit

    def check(v: tuple) -> tuple:
        # Known ids are looked up in dicts that map each id to one shared string: the row then
        # refers to that one object (less memory, and marshal writes a back-reference).
        (event_id, event_type, occurred_at, est, product, quantity, counterparty, lot, expiry,
         serial, prescription, prescriber, professional, patient, sex, birth_year, p_ubigeo,
         days_supply, witness, scan) = v
        if not event_id:
            raise Invalid("event_id", "obligatorio / required")
        # A value longer than its column is reported before anything else in the row. Only the
        # free-text columns can be (ids that match the registry are within their limits); any
        # other rejection checks every column's limit first (``too_long``).
        if len(event_id) > 80 or len(lot) > 60 or len(serial) > 80 or len(counterparty) > 40 \
                or len(prescription) > 60 or len(scan) > 300:
            too_long(v)
        try:
            etype = events.get(event_type)
            if etype is None:
                if not event_type:
                    raise Invalid("event_type", "obligatorio / required")
                check_enum("event_type", event_type, EVENT_TYPES)
            when = whens.get(occurred_at) or time_of(occurred_at)
            e = ests.get(est)
            if e is None:
                if not est:
                    raise Invalid("establishment_id", "obligatorio / required")
                raise Invalid("establishment_id",
                              f"establecimiento no registrado / unknown establishment {show(est)}")
            prod = prods.get(product)
            if prod is None:
                if not product:
                    raise Invalid("product_code", "obligatorio / required")
                raise Invalid("product_code", f"producto no registrado / unknown product {show(product)}")
            q, q_text = qcache.get((etype, quantity)) or quantity_of(etype, quantity)
            needed = required_by_event.get(etype)
            if needed:
                for i, name in needed:
                    if not v[i]:
                        raise Invalid(name, f"obligatorio para {etype} / required for {etype}")
            if counterparty:
                cp = ests.get(counterparty)
                if cp is None:
                    if etype in _COUNTERPARTY_CHECKED:
                        raise Invalid("counterparty_id", f"contraparte no registrada / unknown "
                                                         f"counterparty establishment "
                                                         f"{show(counterparty)}")
                    cp = counterparty  # import/export: a foreign firm, not checked
            else:
                cp = None
            if scan:  # a pack's DataMatrix: fills lot, expiry, serial; contradictions reject
                lot, expiry, serial = gs1.reconcile(gs1.parse_scan(scan), prod, gtins.get(prod),
                                                    lot, expiry, serial)
            exp, exp_text = (expiries.get(expiry) or small_of("expiry", expiry)) if expiry \
                else (None, "")
            if prescriber:
                prescriber = pros.get(prescriber) or _unknown_professional("prescriber_id", prescriber)
            if professional:
                professional = (pros.get(professional)
                                or _unknown_professional("professional_id", professional))
            if witness:
                witness = pros.get(witness) or _unknown_professional("witness_id", witness)
            if patient:
                psn = cache.get(patient) or patient_pseudonym("patient_id", patient, cache,
                                                              pseudonym_key)
            else:
                psn = None
            if sex:
                sx = sexes.get(sex)
                if sx is None:
                    check_enum("patient_sex", sex, PATIENT_SEXES)
            else:
                sx = None
            by, by_text = (births.get(birth_year) or small_of("patient_birth_year", birth_year)) \
                if birth_year else (None, "")
            if p_ubigeo:
                pu = districts.get(p_ubigeo)
                if pu is None:
                    raise Invalid("patient_ubigeo", unknown_ubigeo(p_ubigeo))
            else:
                pu = None
            ds, ds_text = (supplies.get(days_supply) or small_of("days_supply", days_supply)) \
                if days_supply else (None, "")
            # The hash covers normalized values: UTC time, 3 and 3.0 alike, the pseudonym.
            text = "\x1f".join((event_id, etype, when, e, prod, q_text, counterparty, lot,
                                exp_text, serial, prescription, prescriber, professional, psn or "",
                                sex, by_text, p_ubigeo, ds_text, witness))
            if copy_text:
                # The hashed text holds the 19 values in column order: the COPY line is that text
                # with tabs (an empty value is NULL: ``COPY … (NULL '')``), unless a value holds a
                # character COPY escapes, or the separator itself.
                tail = f"\t{blake(text.encode(), digest_size=16).hexdigest()}\t{import_text}\n"
                line = text.replace("\x1f", "\t")
                if line.count("\t") == 18 and not ("\\" in text or "\n" in text or "\r" in text):
                    return line + tail, hash((e, event_id)), when[:7]
                values = (event_id, etype, when, e, prod, q_text, counterparty, lot, exp_text, serial,
                          prescription, prescriber, professional, psn or "", sex, by_text, p_ubigeo,
                          ds_text, witness)
                return "\t".join(map(_copy_escape, values)) + tail, hash((e, event_id)), when[:7]
            if lot:
                lt = lots.get(lot)
                if lt is None:
                    if len(lots) > 50_000:
                        lots.clear()
                    lt = lots[lot] = lot
            else:
                lt = None
            return (event_id, etype, when, e, prod, q, cp, lt, exp, serial or None,
                    prescription or None, prescriber or None, professional or None, psn, sx, by, pu,
                    ds, witness or None, blake(text.encode(), digest_size=16).hexdigest(), import_id)
        except (Invalid, ValueError, ArithmeticError, TypeError):
            too_long(v)
            raise

    def too_long(v: tuple) -> None:
        for i, name, limit in lengths:
            if len(v[i]) > limit:
                raise Invalid(name, f"demasiado largo / longer than {limit} characters")

    return check


def _copy_escape(value: str) -> str:
    """Escape one value for PostgreSQL ``COPY`` text format."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def make_seizure_checker(known: Known, import_id: int) -> Callable[[tuple], tuple]:
    """Return a function that validates one seizure and returns its row (SEIZURE_COLUMNS)."""
    districts = ubigeo.districts()
    prods = known.products
    smiles_ok = _smiles_parser()

    def check(v: tuple) -> tuple:
        (seizure_id, occurred_at, ubg, agency, context, substance, smiles, form, units, mass,
         purity, product, lot, serial) = v
        for name, value in zip(SEIZURES.fields, v, strict=True):
            if not value and name in SEIZURES.required:
                raise Invalid(name, "obligatorio / required")
            limit = SEIZURES.max_len.get(name)
            if limit and len(value) > limit:
                raise Invalid(name, f"demasiado largo / longer than {limit} characters")
        when = time_text(parse_time("occurred_at", occurred_at))
        if ubg not in districts:
            raise Invalid("ubigeo", unknown_ubigeo(ubg))
        if context:
            check_enum("context", context, SEIZURE_CONTEXTS)
        if form:
            check_enum("form", form, SEIZURE_FORMS)
        if smiles and (problem := smiles_ok(smiles)):
            raise Invalid("smiles", f"estructura no utilizable / unusable structure: {problem}")
        n_units = _non_negative("units", units)
        n_mass = _non_negative("net_mass_mg", mass)
        n_purity = _non_negative("purity_percent", purity)
        if n_purity is not None and n_purity > 100:
            raise Invalid("purity_percent", f"debe estar entre 0 y 100 / must be 0 to 100: {show(purity)}")
        if product and product not in prods:
            raise Invalid("product_code", f"producto no registrado / unknown product {show(product)}")
        row = (seizure_id, when, ubg, agency, context or None, substance or None, smiles or None,
               form or None, n_units, n_mass, n_purity, product or None, lot or None,
               serial or None)
        return row + (content_hash(row), import_id)

    return check


def _unknown_professional(name: str, value: str) -> NoReturn:
    raise Invalid(name, f"profesional no registrado / unknown professional {show(value)}")


def _non_negative(name: str, value: str) -> float | None:
    if not value:
        return None
    x = parse_number(name, value)
    if x < 0:
        raise Invalid(name, f"no puede ser negativo / must not be negative: {show(value)}")
    return x


def _smiles_parser() -> Callable[[str], str | None]:
    """Return a structure check: None when usable, else the reason (Spanish / English)."""
    from centinela.lib.chem import structure_problem  # RDKit's own messages are off there

    def problem(smiles: str) -> str | None:
        exc = structure_problem(smiles)
        return None if exc is None else f"{exc.message_es} / {exc}"

    return problem
