"""Names and redaction shared by the page contexts and the alert evidence (no page logic):
department and region names, and pseudonyms hidden from roles that may not see patients."""

from __future__ import annotations

from typing import Any

from centinela.reference.ubigeo import departments, get, provinces

HIDDEN_PATIENT = "PSN:[reservado]"


def department_name(code: str | None) -> str | None:
    """Return the INEI department name of a 2-digit code."""
    return departments().get(code or "") if code else None


def region_name(code: str | None) -> str | None:
    """Return the INEI name of a department (2 digits), province (4) or district (6) code:
    "Puno", "Lampa (Puno)", "Lampa (Lampa, Puno)"; None for an unknown code."""
    code = (code or "").strip()
    if len(code) == 2:
        return department_name(code)
    if len(code) == 4 and code in provinces():
        dep, prov = provinces()[code]
        return f"{prov} ({dep})"
    district = get(code) if len(code) == 6 else None
    return f"{district.district} ({district.province}, {district.department})" if district else None


def hide_patients(value: Any) -> Any:
    """Replace every PSN pseudonym inside ``value`` (str, list, dict) with a placeholder."""
    if isinstance(value, str):
        return HIDDEN_PATIENT if value.startswith("PSN:") else value
    if isinstance(value, list):
        return [hide_patients(v) for v in value]
    if isinstance(value, dict):
        return {k: hide_patients(v) for k, v in value.items()}
    return value


def hide_patients_text(text: str) -> str:
    """Replace PSN tokens inside free text."""
    return " ".join(HIDDEN_PATIENT if w.startswith("PSN:") else w for w in text.split(" "))
