"""Read ``balances.csv``/``.jsonl`` (an intake extension file, ``docs/intake.md``) into the
ledger's periodic balances; ``centinela.ledger.balances`` reconciles them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ingest.extra import import_file
from centinela.ingest.fields import RecordSpec
from centinela.ingest.values import Invalid, parse_date, parse_number, show
from centinela.ledger.balances import KEY
from centinela.ledger.models import PeriodicBalance
from centinela.registry.models import Establishment, Product

BALANCES = RecordSpec(
    name="balances",
    fields=("establishment_id", "product_code", "period_start", "period_end", "opening_units",
            "receipts_units", "issues_units", "closing_units"),
    required=frozenset({"establishment_id", "product_code", "period_start", "period_end",
                        "opening_units", "receipts_units", "issues_units", "closing_units"}),
    key="period_end",
    max_len={"establishment_id": 40, "product_code": 40},
)

def import_balances_file(session: Session, path: Path, import_id: int | None) -> dict[str, Any]:
    """Import ``balances.csv``/``.jsonl`` inside the caller's transaction (extension point)."""
    ests = dict(session.execute(select(Establishment.establishment_id,
                                       Establishment.department)).all())
    products = set(session.scalars(select(Product.product_code)))

    def check(rec: dict[str, Any]) -> dict[str, Any]:
        est, prod = rec["establishment_id"], rec["product_code"]
        if est not in ests:
            raise Invalid("establishment_id", f"establecimiento no registrado / unknown "
                                              f"establishment {show(est)}")
        if prod not in products:
            raise Invalid("product_code", f"producto no registrado / unknown product {show(prod)}")
        start = parse_date("period_start", rec["period_start"])
        end = parse_date("period_end", rec["period_end"])
        if end < start:
            raise Invalid("period_end", "el periodo termina antes de empezar / period_end is "
                                        "before period_start")
        row = {"establishment_id": est, "product_code": prod, "period_start": start,
               "period_end": end, "department": ests[est]}
        for name in ("opening_units", "receipts_units", "issues_units", "closing_units"):
            x = parse_number(name, rec[name])
            if x < 0:
                raise Invalid(name, f"no puede ser negativo / must not be negative: "
                                    f"{show(rec[name])}")
            row[name] = x
        return row

    return import_file(session, path, import_id, BALANCES, PeriodicBalance, KEY, check)
