"""MME of registry products through the detection engine's factors (``centinela.ledger.mme``)."""

from __future__ import annotations

from centinela.ledger.mme import UnitMME, daily_mme, unit_mme
from centinela.registry.models import Product

__all__ = ["daily_mme", "mme_per_unit", "unit_of"]


def unit_of(product: Product) -> UnitMME:
    """Return the MME of one unit of ``product``."""
    return unit_mme(product.substance, product.dosage_form, product.strength_mg_per_unit,
                    product.patch_mcg_per_hour)


def mme_per_unit(product: Product) -> float:
    """Return the MME held in one unit of ``product``."""
    return unit_of(product).mme_per_unit
