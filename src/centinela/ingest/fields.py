"""The reporting format's record types: file stems, fields in spec order, required fields.

This is the one place that lists the fields of ``reporting-format.md``; readers, validators,
the API and the docs all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from centinela.reference.events import EVENT_TYPES


@dataclass(frozen=True)
class RecordSpec:
    """One record type of the spec: its file stem, fields (in spec order) and rules."""

    name: str
    fields: tuple[str, ...]
    required: frozenset[str]
    key: str  # field that identifies a record (with establishment_id for movements)
    max_len: dict[str, int]
    # Optional fields of Centinela's documented extensions (docs/intake.md), listed last in
    # ``fields``: a file of the base spec never has them and means the same without them.
    extension: tuple[str, ...] = ()

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.fields)

    @property
    def base_fields(self) -> tuple[str, ...]:
        """The fields of ``reporting-format.md`` itself, in spec order."""
        return tuple(f for f in self.fields if f not in self.extension)


ESTABLISHMENTS = RecordSpec(
    name="establishments",
    fields=("establishment_id", "name", "kind", "sector", "ubigeo", "ruc",
            "authorized_controlled", "authorization_expires"),
    required=frozenset({"establishment_id", "name", "kind", "sector", "ubigeo",
                        "authorized_controlled"}),
    key="establishment_id",
    max_len={"establishment_id": 40, "name": 300},
)

PROFESSIONALS = RecordSpec(
    name="professionals",
    fields=("professional_id", "role", "full_name", "specialty", "establishment_id", "ubigeo",
            "opioid_certified_on", "certificate_id"),
    required=frozenset({"professional_id", "role", "full_name"}),
    key="professional_id",
    max_len={"professional_id": 40, "full_name": 300, "specialty": 80, "establishment_id": 40,
             "certificate_id": 60},
)

PRODUCTS = RecordSpec(
    name="products",
    fields=("product_code", "name", "substance", "dosage_form", "strength_mg_per_unit",
            "patch_mcg_per_hour", "units_per_pack",
            # extension (docs/intake.md): the pack's GS1 GTIN, to check DataMatrix scans
            "gtin"),
    required=frozenset({"product_code", "name", "substance", "dosage_form",
                        "strength_mg_per_unit"}),
    key="product_code",
    max_len={"product_code": 40, "name": 300, "substance": 80, "gtin": 14},
    extension=("gtin",),
)

MOVEMENTS = RecordSpec(
    name="movements",
    fields=("event_id", "event_type", "occurred_at", "establishment_id", "product_code",
            "quantity", "counterparty_id", "lot", "expiry", "serial", "prescription_id",
            "prescriber_id", "professional_id", "patient_id", "patient_sex",
            "patient_birth_year", "patient_ubigeo", "days_supply", "witness_id",
            # extension (docs/intake.md): the raw GS1 DataMatrix scan of the pack
            "gs1_scan"),
    required=frozenset({"event_id", "event_type", "occurred_at", "establishment_id",
                        "product_code", "quantity"}),
    key="event_id",
    max_len={"event_id": 80, "establishment_id": 40, "product_code": 40, "counterparty_id": 40,
             "lot": 60, "serial": 80, "prescription_id": 60, "prescriber_id": 40,
             "professional_id": 40, "witness_id": 40, "gs1_scan": 300},
    extension=("gs1_scan",),
)

SEIZURES = RecordSpec(
    name="seizures",
    fields=("seizure_id", "occurred_at", "ubigeo", "agency", "context", "substance", "smiles",
            "form", "units", "net_mass_mg", "purity_percent", "product_code", "lot", "serial"),
    required=frozenset({"seizure_id", "occurred_at", "ubigeo", "agency"}),
    key="seizure_id",
    max_len={"seizure_id": 80, "agency": 40, "substance": 120, "smiles": 2000,
             "product_code": 40, "lot": 60, "serial": 80},
)

# Registry files first: movements and seizures refer to them.
SPECS: dict[str, RecordSpec] = {
    s.name: s for s in (ESTABLISHMENTS, PROFESSIONALS, PRODUCTS, MOVEMENTS, SEIZURES)
}
ORDER = tuple(SPECS)
REGISTRY_TYPES = ("establishments", "professionals", "products")
EXTENSIONS = (".csv", ".jsonl")

# Conditionally required movement fields (spec: "for receipt, transfer_in, transfer_out", …).
REQUIRED_BY_EVENT: dict[str, tuple[str, ...]] = {
    "receipt": ("counterparty_id",),
    "transfer_in": ("counterparty_id",),
    "transfer_out": ("counterparty_id",),
    "dispense": ("prescription_id", "prescriber_id", "patient_id"),
    "administer": ("patient_id",),
}
FRACTIONAL_EVENTS = frozenset({"administer", "waste"})
# The spec's event_type values (one copy, ``reference.events``; no SQLAlchemy for the child).
MOVEMENT_EVENT_TYPES = EVENT_TYPES
SEIZURE_CONTEXTS = ("street", "pharmacy", "hospital", "border", "parcel", "airport", "port",
                    "online")
SEIZURE_FORMS = ("powder", "pill", "ampoule", "patch", "liquid", "blotter")
PATIENT_SEXES = ("F", "M", "X")
# College prefix of a professional_id → the role it may hold.
PROFESSIONAL_PREFIXES = {"CMP": "prescriber", "COP": "prescriber", "CQFP": "pharmacist",
                         "CEP": "nurse"}
