"""Hand-built reporting-format records for the intake and ledger tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from centinela.ingest.fields import SPECS

ESTABLISHMENTS = [
    {"establishment_id": "EST-IMP", "name": "Importadora Andina", "kind": "importer",
     "sector": "private", "ubigeo": "150101", "ruc": "20123456789",
     "authorized_controlled": "true", "authorization_expires": "2026-12-31"},
    {"establishment_id": "EST-DIS", "name": "Distribuidora Lima", "kind": "distributor",
     "sector": "private", "ubigeo": "150101", "ruc": "20987654321",
     "authorized_controlled": "true", "authorization_expires": ""},
    {"establishment_id": "EST-HOS", "name": "Hospital Regional Cusco", "kind": "hospital",
     "sector": "public", "ubigeo": "080101", "ruc": "", "authorized_controlled": "true",
     "authorization_expires": ""},
    {"establishment_id": "EST-FAR", "name": "Botica Arequipa", "kind": "drugstore",
     "sector": "private", "ubigeo": "040101", "ruc": "10456789012",
     "authorized_controlled": "false", "authorization_expires": ""},
]
PROFESSIONALS = [
    {"professional_id": "CMP-012345", "role": "prescriber", "full_name": "Ana Quispe",
     "specialty": "anesthesiology", "establishment_id": "EST-HOS", "ubigeo": "",
     "opioid_certified_on": "2025-02-01", "certificate_id": "CERT-1"},
    {"professional_id": "CQFP-01234", "role": "pharmacist", "full_name": "Luis Mamani",
     "specialty": "", "establishment_id": "EST-FAR", "ubigeo": "040101",
     "opioid_certified_on": "", "certificate_id": ""},
    {"professional_id": "CEP-00077", "role": "nurse", "full_name": "Rosa Huamán",
     "specialty": "", "establishment_id": "EST-HOS", "ubigeo": "",
     "opioid_certified_on": "", "certificate_id": ""},
]
PRODUCTS = [
    {"product_code": "EE-00001", "name": "Fentanilo citrato 0.05 mg/mL x 2 mL ampolla",
     "substance": "fentanyl", "dosage_form": "ampoule", "strength_mg_per_unit": "0.1",
     "patch_mcg_per_hour": "", "units_per_pack": "50"},
    {"product_code": "EE-00002", "name": "Fentanilo parche 25 mcg/h", "substance": "fentanyl",
     "dosage_form": "patch", "strength_mg_per_unit": "4.2", "patch_mcg_per_hour": "25",
     "units_per_pack": "5"},
    {"product_code": "EE-00003", "name": "Morfina 10 mg/mL ampolla", "substance": "morphine",
     "dosage_form": "ampoule", "strength_mg_per_unit": "10", "patch_mcg_per_hour": "",
     "units_per_pack": "10"},
]


def movement(event_id: str, event_type: str, occurred_at: str, establishment_id: str,
             quantity: str = "1", product_code: str = "EE-00001", **extra: str) -> dict:
    """Return one movement record with every spec field (empty when not given)."""
    rec = {f: "" for f in SPECS["movements"].base_fields}
    rec.update(event_id=event_id, event_type=event_type, occurred_at=occurred_at,
               establishment_id=establishment_id, product_code=product_code, quantity=quantity)
    rec.update(extra)
    return rec


def write_csv(folder: Path, stem: str, rows: list[dict], fields: list[str] | None = None) -> Path:
    """Write ``rows`` as ``stem.csv`` (columns: ``fields`` or the spec's)."""
    fields = fields or list(SPECS[stem].base_fields) if stem in SPECS else fields or list(rows[0])
    path = folder / f"{stem}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


def write_jsonl(folder: Path, stem: str, rows: list[dict]) -> Path:
    """Write ``rows`` as ``stem.jsonl``."""
    path = folder / f"{stem}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def write_registry(folder: Path) -> None:
    """Write the three registry files."""
    write_csv(folder, "establishments", ESTABLISHMENTS)
    write_csv(folder, "professionals", PROFESSIONALS)
    write_csv(folder, "products", PRODUCTS)
