"""The reporting format's movement types (spec table ``event_type``) and their stock effect.

Plain constants with no database import: the ledger's records and the validating child of an
import (which must start without SQLAlchemy) read the one copy here.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "import", "receipt", "transfer_in", "transfer_out", "dispense", "administer", "waste",
    "loss", "export", "count",
)
"""Movement types, in the spec's order."""

STOCK_SIGN: dict[str, int] = {
    "import": 1, "receipt": 1, "transfer_in": 1, "transfer_out": -1, "dispense": -1,
    "administer": -1, "waste": -1, "loss": -1, "export": -1, "count": 0,
}
"""What each movement type does to the stock on hand (a count sets it)."""
