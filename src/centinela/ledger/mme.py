"""Morphine milligram equivalents (MME) of a unit of each product.

Oral and transmucosal factors are the CDC's (2022 Clinical Practice Guideline, Table): morphine 1,
codeine 0.15, hydrocodone 1, hydromorphone 5, oxycodone 1.5, oxymorphone 3, methadone 4.7,
tapentadol 0.4, tramadol 0.2, meperidine 0.1; fentanyl buccal/sublingual/lozenge 0.13 per mcg,
fentanyl nasal spray 0.16 per mcg; transdermal fentanyl 2.4 MME/day per mcg/h (a patch lasts
72 h, so one patch = 7.2 × mcg/h MME). The CDC gives no factors for injectables; for ampoules and
vials we use the usual equianalgesic tables (parenteral morphine 10 mg ≈ oral 30 mg; fentanyl
0.1 mg IV ≈ morphine 10 mg IV), documented here as approximations used only to weigh findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from centinela.reference.substances import substance_class

if TYPE_CHECKING:
    from centinela.registry.models import Product

ORAL = {
    "morphine": 1.0, "codeine": 0.15, "hydrocodone": 1.0, "hydromorphone": 5.0,
    "oxycodone": 1.5, "oxymorphone": 3.0, "methadone": 4.7, "tapentadol": 0.4,
    "tramadol": 0.2, "meperidine": 0.1, "pethidine": 0.1, "levorphanol": 11.0,
    "fentanyl": 130.0, "buprenorphine": 0.0,
}
PARENTERAL = {
    "morphine": 3.0, "hydromorphone": 20.0, "fentanyl": 300.0, "remifentanil": 300.0,
    "sufentanil": 3000.0, "alfentanil": 40.0, "meperidine": 0.4, "pethidine": 0.4,
    "methadone": 9.4, "oxycodone": 3.0, "tramadol": 0.3, "nalbuphine": 3.0,
}
NASAL = {"fentanyl": 160.0}
PATCH_MME_PER_MCG_H_DAY = 2.4
PATCH_DAYS = 3.0
PARENTERAL_FORMS = ("ampoule", "vial")
FENTANYL_FAMILY = ("fentanyl", "remifentanil", "sufentanil", "alfentanil", "carfentanil")
# CDC's high-dose guidance excludes active cancer treatment, palliative and end-of-life care.
EXEMPT_SPECIALTIES = ("oncology", "palliative_care", "hematology_oncology", "hospice",
                      "radiation_oncology", "pediatric_oncology")


@dataclass(frozen=True, slots=True)
class UnitMME:
    mme_per_unit: float
    mg_per_unit: float
    patch_mcg_h: float | None
    route: str


def unit_mme(substance: str, dosage_form: str, strength_mg: float,
             patch_mcg_h: float | None = None) -> UnitMME:
    """Return the MME held in one unit of a presentation."""
    sub = (substance or "").strip().lower()
    form = (dosage_form or "").strip().lower()
    mg = float(strength_mg or 0.0)
    if substance_class(sub) not in ("opioid", "other"):
        # Benzodiazepines, stimulants, barbiturates: controlled, but no morphine equivalent.
        return UnitMME(0.0, mg, None, "non_opioid")
    if form == "patch":
        rate = patch_mcg_h if patch_mcg_h else mg * 10.0  # matrix patches: ~10 mcg/h per mg
        return UnitMME(PATCH_MME_PER_MCG_H_DAY * rate * PATCH_DAYS, mg, rate, "transdermal")
    if form in PARENTERAL_FORMS or (form == "solution" and sub in FENTANYL_FAMILY):
        factor = PARENTERAL.get(sub, 3.0 if sub not in FENTANYL_FAMILY else 300.0)
        return UnitMME(factor * mg, mg, None, "parenteral")
    if form == "spray":
        return UnitMME(NASAL.get(sub, ORAL.get(sub, 1.0)) * mg, mg, None, "nasal")
    return UnitMME(ORAL.get(sub, 1.0) * mg, mg, None, "oral")


def days_covered(unit: UnitMME, quantity: float, days_supply: float | None) -> float:
    """Return the days a dispense covers: its days supply, else 3 days a patch and one day any
    other unit (the lower, conservative reading)."""
    if days_supply and days_supply > 0:
        return float(days_supply)
    return PATCH_DAYS * quantity if unit.route == "transdermal" else max(quantity, 1.0)


def days_covered_many(patch: np.ndarray, quantity: np.ndarray,
                      days_supply: np.ndarray) -> np.ndarray:
    """``days_covered`` of many dispenses at once (``patch``: transdermal units; a days supply
    that is NaN or not positive counts as not given)."""
    default = np.where(patch, PATCH_DAYS * quantity, np.maximum(quantity, 1.0))
    given = ~np.isnan(days_supply) & (days_supply > 0)
    return np.where(given, days_supply, default)


def daily_mme(unit: UnitMME, quantity: float, days_supply: float | None) -> float:
    """Return the daily MME of a dispense (CDC: units × MME per unit ÷ days covered)."""
    return unit.mme_per_unit * quantity / max(days_covered(unit, quantity, days_supply), 1.0)


def unit_of(product: Product) -> UnitMME:
    """Return the MME of one unit of ``product``."""
    return unit_mme(product.substance, product.dosage_form, product.strength_mg_per_unit,
                    product.patch_mcg_per_hour)


def mme_per_unit(product: Product) -> float:
    """Return the MME held in one unit of ``product``."""
    return unit_of(product).mme_per_unit
