"""Streaming writers for the reporting-format files, as CSV or JSON Lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO

ESTABLISHMENT_FIELDS = ("establishment_id", "name", "kind", "sector", "ubigeo", "ruc",
                        "authorized_controlled", "authorization_expires")
PROFESSIONAL_FIELDS = ("professional_id", "role", "full_name", "specialty", "establishment_id",
                       "ubigeo", "opioid_certified_on", "certificate_id")
PRODUCT_FIELDS = ("product_code", "name", "substance", "dosage_form", "strength_mg_per_unit",
                  "patch_mcg_per_hour", "units_per_pack")
MOVEMENT_FIELDS = ("event_id", "event_type", "occurred_at", "establishment_id", "product_code",
                   "quantity", "counterparty_id", "lot", "expiry", "serial", "prescription_id",
                   "prescriber_id", "professional_id", "patient_id", "patient_sex",
                   "patient_birth_year", "patient_ubigeo", "days_supply", "witness_id")
SEIZURE_FIELDS = ("seizure_id", "occurred_at", "ubigeo", "agency", "context", "substance",
                  "smiles", "form", "units", "net_mass_mg", "purity_percent", "product_code",
                  "lot", "serial")
FIELDS = {
    "establishments": ESTABLISHMENT_FIELDS,
    "professionals": PROFESSIONAL_FIELDS,
    "products": PRODUCT_FIELDS,
    "movements": MOVEMENT_FIELDS,
    "seizures": SEIZURE_FIELDS,
}
# Fields written as JSON numbers or booleans in JSON Lines (CSV keeps the same text).
_NUMBERS = frozenset({"quantity", "strength_mg_per_unit", "patch_mcg_per_hour", "net_mass_mg",
                      "purity_percent"})
_INTEGERS = frozenset({"units_per_pack", "patient_birth_year", "days_supply", "units"})
_BOOLEANS = frozenset({"authorized_controlled"})


class TableWriter:
    """Write rows (tuples of strings, '' for empty) of one file in the chosen format."""

    def __init__(self, directory: Path, table: str, fmt: str) -> None:
        self.fields = FIELDS[table]
        self.fmt = fmt
        self.count = 0
        ext = "csv" if fmt == "csv" else "jsonl"
        self.path = directory / f"{table}.{ext}"
        self._fh: IO[str] = self.path.open("w", encoding="utf-8", newline="")
        if fmt == "csv":
            self._csv = csv.writer(self._fh, lineterminator="\n")
            self._csv.writerow(self.fields)
        else:
            self._kinds = [("n" if f in _NUMBERS else "i" if f in _INTEGERS
                            else "b" if f in _BOOLEANS else "s") for f in self.fields]

    def write(self, rows: list[tuple]) -> None:
        """Append rows."""
        self.count += len(rows)
        if self.fmt == "csv":
            self._csv.writerows(rows)
            return
        self._jsonl(rows)

    def write_plain(self, rows: list[tuple]) -> None:
        """Append rows whose fields never need CSV quoting (generated ids, codes, numbers)."""
        if self.fmt != "csv":
            self.write(rows)
            return
        self.count += len(rows)
        if rows:
            self._fh.write("\n".join(map(",".join, rows)) + "\n")

    def _jsonl(self, rows: list[tuple]) -> None:
        out = []
        for row in rows:
            obj = {}
            for name, kind, value in zip(self.fields, self._kinds, row, strict=True):
                if value == "":
                    continue
                if kind == "n":
                    num = float(value)
                    obj[name] = int(num) if num.is_integer() else num
                elif kind == "i":
                    obj[name] = int(value)
                elif kind == "b":
                    obj[name] = value == "true"
                else:
                    obj[name] = value
            out.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        if out:
            self._fh.write("\n".join(out) + "\n")

    def close(self) -> None:
        """Close the file."""
        self._fh.close()
