"""Inventory reconciliation: book stock against physical counts."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.util import groups
from centinela.ingest.models import EVENT_TYPES, STOCK_SIGN


def _best_run(intervals: list[dict]) -> tuple[list[dict], float]:
    """Return the run of consecutive intervals with the largest net shortfall (Kadane) and that
    shortfall net of any surplus found at later counts (a miscount corrected later is not
    missing)."""
    best, best_sum, start, run = (0, 0), 0.0, 0, 0.0
    for i, x in enumerate(intervals):
        if run <= 0:
            start, run = i, 0.0
        run += x["diff"]
        if run > best_sum:
            best_sum, best = run, (start, i + 1)
    later = sum(x["diff"] for x in intervals[best[1]:])
    return intervals[best[0]:best[1]], best_sum + min(later, 0.0)


class InventoryDiscrepancy(Detector):
    """Units missing at a physical count: previous count + receipts − (dispense + administer +
    waste + loss + transfers out + exports) since then, minus what was counted.

    Per establishment × product, between consecutive counts. An honest book balances exactly, so
    the only tolerance is for miscounts and rounding: surpluses offset shortfalls (a miscount
    corrected at the next count nets to zero), and the shortfall must be material. A theft lasts
    weeks or months, not necessarily the whole year, so the finding is the run of consecutive
    count intervals with the largest net shortfall (maximum-sum run, surpluses inside it and at
    later counts still offsetting it); diluting it with the months before and after would hide it
    in a busy store.
    Flagged when that net shortfall is ≥ 2 units and ≥ 2 % of the units that left the stock
    (dispensed, administered, wasted, lost, shipped, exported) over the same intervals — a
    conventional shrinkage tolerance, proportional to throughput so a big hospital is not flagged
    for its size.
    """

    name = "inventory_discrepancy"
    title = "Faltante en conteo de inventario / Inventory shortfall at count"
    subject_kind = "establishment"
    topics = ("diversion", "inventory")
    thresholds = {"net missing units (best run of count intervals)": "≥ 2",
                  "share of units out in that run": "≥ 2 %"}
    evidence_fields = ("products", "missing_units", "book", "counted", "intervals")

    MIN_UNITS, MIN_SHARE = 2.0, 0.02

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        is_count = f.is_type("count")
        ok = (f.est >= 0) & (f.product >= 0)
        width = len(f.prodv) + 1
        key_all = f.est.astype(np.int64) * width + f.product
        counted_keys = np.unique(key_all[is_count & ok])
        if len(counted_keys) == 0:
            return []
        rows = np.flatnonzero(ok & np.isin(key_all, counted_keys))
        sign_of_code = np.array([STOCK_SIGN[n] for n in EVENT_TYPES], dtype=float)
        key = key_all[rows]
        # Counts sort after flows at the same instant (the count closes the period).
        order = np.lexsort((is_count[rows], f.t[rows], key))
        rows, key = rows[order], key[order]
        flow = sign_of_code[f.etype[rows]] * f.qty[rows]
        moved = np.where(flow < 0, -flow, 0.0)  # units that left the stock
        cum, cum_moved = np.cumsum(flow), np.cumsum(moved)
        findings: dict[int, list[dict]] = {}
        cpos = np.flatnonzero(is_count[rows])
        for _, pos in groups(key[cpos], cpos):
            if len(pos) < 2:
                continue
            nets: list[dict] = []
            for a, b in zip(pos[:-1], pos[1:], strict=True):
                book = f.qty[rows[a]] + (cum[b] - cum[a])
                counted = float(f.qty[rows[b]])
                nets.append({"a": int(a), "b": int(b), "book": float(book), "counted": counted,
                             "diff": float(book - counted), "moved": float(cum_moved[b] - cum_moved[a])})
            in_win = [x for x in nets if f.t[rows[x["b"]]] >= ctx.start_t]
            if not in_win:
                continue
            in_win, missing = _best_run(in_win)
            moved_total = sum(x["moved"] for x in in_win)
            if missing < max(self.MIN_UNITS, self.MIN_SHARE * moved_total):
                continue
            short = [x for x in in_win if x["diff"] >= 1.0 - 1e-9]
            if not short:
                continue
            est = int(f.est[rows[pos[0]]])
            findings.setdefault(est, []).append({
                "product": int(f.product[rows[pos[0]]]), "missing": missing, "moved": moved_total,
                "intervals": short, "rows": rows,
            })
        return [self._alert(ctx, est, items) for est, items in findings.items()]

    def _alert(self, ctx: DetectionContext, est: int, items: list[dict]) -> AlertDraft:
        f = ctx.frame
        name = f.estv.name(est)
        t0 = min(int(f.t[it["rows"][x["a"]]]) for it in items for x in it["intervals"])
        t1 = max(int(f.t[it["rows"][x["b"]]]) for it in items for x in it["intervals"])
        missing_units = sum(it["missing"] for it in items)
        mme = sum(it["missing"] * float(ctx.registry.prod_mme[it["product"]]) for it in items)
        share = missing_units / max(sum(it["moved"] for it in items), 1.0)
        n_int = sum(len(it["intervals"]) for it in items)
        strength = min(0.9, 0.5 + 0.3 * min(1.0, share / 0.2) + 0.05 * (n_int - 1))
        ev_rows = np.array(sorted({int(it["rows"][x["b"]]) for it in items for x in it["intervals"]}))
        products = [{
            "product_code": f.prodv.name(it["product"]), "missing_units": round(it["missing"], 3),
            "units_out": round(it["moved"], 3),
            "intervals": [{"from": day_str(int(f.t[it["rows"][x["a"]]])),
                           "to": day_str(int(f.t[it["rows"][x["b"]]])),
                           "book": round(x["book"], 3), "counted": x["counted"]}
                          for x in it["intervals"][:12]],
        } for it in sorted(items, key=lambda it: -it["missing"])]
        summary = (f"En los conteos de {name} faltan {fmt(missing_units, 1)} unidades frente al libro "
                   f"({100 * share:.1f} % de las salidas) entre {day_str(t0)} y {day_str(t1)}.")
        return self.draft(
            name, t0, t1, strength, mme, summary,
            {"metric": "book − counted units", "observed": round(missing_units, 3), "expected": 0,
             "share_of_throughput": share, "products": products[:10], **f.events(ev_rows)},
            department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
        )
