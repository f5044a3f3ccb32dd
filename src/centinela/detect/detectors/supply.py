"""Unrecorded supply: an establishment that hands out more than its books ever received."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.util import groups
from centinela.ledger.records import EVENT_TYPES, STOCK_SIGN

INFLOWS = ("import", "receipt", "transfer_in")


class UnrecordedSupply(Detector):
    """Units that leave an establishment's stock (dispensed, administered, sent, wasted) with
    no recorded supply behind them: the book goes negative and stays there, or the shelf holds
    more at each count than the books allow.

    The data contract names it: "a stock that goes negative … a count that disagrees with the
    books are signals for detection". Units from nowhere are units bought off the books (the
    diverted ampoules and patches of an illegal market, laundered through real dispenses),
    whatever the paperwork says.

    Per establishment × product, over the detection window. With counts: the gap at each count
    is what the shelf held beyond the first count plus the movements since (a booking late
    across a count cancels at the next one); unexplained units = how fast that gap grows (the median slope
    between every two counts, ≥ 4 counts: a miscount, wherever it falls, moves few of the
    slopes; a shelf fed off the books moves them all) over the counts' span, plus how far the
    book falls below zero after the last count. With no count at all: how far the book falls
    below the lowest level of its first 60 days (which an unknown opening stock explains),
    provided the establishment booked receipts of the product (a shelf drawn down from before
    the window is not judged) and the book reaches a new low in ≥ 3 months. An inflow booked up
    to 7 days after the units went out may have covered them; the last 14 days are not judged
    (a receipt still being typed in); a ward's residues (fractional waste) may be booked on top
    of the full ampoule given, so the gap must hold without them. Units the senders' own
    ``transfer_out`` records shipped to the establishment and that it never booked are
    explained (its receiving clerk, not the market).

    Flagged when the unexplained units are ≥ 10 and ≥ 20 % of the units that left the stock;
    strength grows with that share (≥ 50 %: full), magnitude with their MME.
    """

    name = "unrecorded_supply"
    title = "Salidas sin abastecimiento registrado / Outflows with no recorded supply"
    tolerates = (
        "an opening stock never counted (the book's lowest level in its first 60 days), "
        "receipts booked late (a surplus and a shortfall that cancel; the last 14 days not "
        "judged), shipments the sender recorded but the receiver did not book, and small "
        "gaps (< 10 units or < 20 % of the outflows)."
    )
    subject_kind = "establishment"
    topics = ("diversion", "inventory")
    thresholds = {"unexplained units": "≥ 10 and ≥ 20 % of the units that left the stock",
                  "no count": "receipts booked, a new low in ≥ 3 months",
                  "grace": "first 60 days (opening stock), last 14 days (late booking)"}
    evidence_fields = ("observed", "expected", "units_out", "units_in", "counts", "event_ids")

    MIN_UNITS, MIN_SHARE, FULL_SHARE = 10.0, 0.20, 0.50
    OPENING_DAYS, LATE_DAYS, NEW_LOW_MONTHS, BOOKING_LAG_DAYS = 60, 14, 3, 7
    MIN_COUNTS = 4  # counts (the first included) before the gap's growth is judged
    MAX_SLOPE_POINTS = 400  # counts the pairwise slopes use at most (80,000 pairs)

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        ok = (f.est >= 0) & (f.product >= 0)
        rows = np.flatnonzero(ok)
        if len(rows) == 0:
            return []
        width = len(f.prodv) + 1
        is_count = f.is_type("count")
        key = f.est[rows].astype(np.int64) * width + f.product[rows]
        order = np.lexsort((is_count[rows], f.t[rows], key))
        rows, key = rows[order], key[order]
        sign = np.array([STOCK_SIGN[n] for n in EVENT_TYPES], dtype=float)
        flow = sign[f.etype[rows]] * f.qty[rows]
        inflow = f.is_type(*INFLOWS)[rows]
        # Units the senders shipped to each establishment × product (their transfer_out).
        sent = f.is_type("transfer_out") & ok & (f.counterparty >= 0)
        shipped: dict[int, float] = {}
        for k, q in zip((f.counterparty[sent].astype(np.int64) * width + f.product[sent]).tolist(),
                        f.qty[sent].tolist(), strict=True):
            shipped[k] = shipped.get(k, 0.0) + q
        # A ward's residue: fractional waste (one mask for the frame, not one per series).
        residues = f.is_type("waste") & (np.mod(f.qty, 1.0) != 0)
        end = ctx.now_t - self.LATE_DAYS * DAY
        out = []
        for k, pos in groups(key, np.arange(len(rows))):
            r = rows[pos]
            t = f.t[r]
            if t[-1] < ctx.start_t or not (flow[pos] < 0).any():
                continue
            fl, inn = flow[pos], inflow[pos]
            found = self._series(f, r, t, fl, is_count[r], inn, end)
            if found is None:
                continue
            # A ward that books the full ampoule as given and its residue as waste too counts
            # the residue twice: the gap must hold with residues (fractional waste) left out.
            residue = residues[r]
            if residue.any():
                alt = self._series(f, r, t, np.where(residue, 0.0, fl), is_count[r], inn, end)
                if alt is None:
                    continue
                found = min(found, alt, key=lambda x: x[0])
            unexplained, detail = found
            units_in = float(flow[pos][inflow[pos]].sum())
            unbooked = max(shipped.get(int(k), 0.0) - units_in, 0.0)
            unexplained -= unbooked
            units_out = float(-flow[pos][flow[pos] < 0].sum())
            if unexplained < self.MIN_UNITS or unexplained < self.MIN_SHARE * units_out:
                continue
            out.append(self._alert(ctx, int(k) // width, int(k) % width, r, unexplained,
                                   units_out, units_in, unbooked, detail))
        return out

    def _series(self, f, r, t, flow, is_count, inflow, end):
        """Return (unexplained units, detail) of one establishment × product, or None."""
        counts = np.flatnonzero(is_count)
        judged = t <= end
        # The book's lows: an inflow booked up to a week late may have covered the outflows
        # before it (the count gaps need no such care: a late booking cancels between counts).
        lag = np.where(inflow, t - self.BOOKING_LAG_DAYS * DAY, t)
        late = np.lexsort((np.arange(len(t)), lag))
        if len(counts):
            # The shelf beyond the book at each count, from the first: counted − (first count
            # + the flows since). A booking late across a count cancels at the next one.
            cum = np.cumsum(flow)
            first = float(f.qty[r[counts[0]]])
            gaps = [float(f.qty[r[c]]) - first - float(cum[c] - cum[counts[0]])
                    for c in counts[1:]]
            # How fast the gap grows: the median of the slopes between every two counts (the
            # first count's own gap is 0) over the counts' span. A miscount, wherever it falls,
            # moves few of the slopes; a shelf fed off the books moves them all.
            seq = np.array([0.0, *gaps])
            when = t[counts] / DAY
            surplus = 0.0
            if len(seq) > self.MAX_SLOPE_POINTS:
                # Every pair is O(n²) in memory (70,000 counts of one shelf sent in one batch:
                # 4.6 GiB for the pair mask alone): the median slope is taken over counts
                # evenly spaced through the series, which keeps it robust and bounded.
                pick = np.unique(np.linspace(0, len(seq) - 1, self.MAX_SLOPE_POINTS)
                                 .round().astype(np.int64))
                seq, when = seq[pick], when[pick]
            if len(seq) >= self.MIN_COUNTS:
                i, j = np.triu_indices(len(seq), 1)
                ok = when[j] - when[i] >= 1.0
                if ok.any():
                    slope = float(np.median((seq[j] - seq[i])[ok] / (when[j] - when[i])[ok]))
                    surplus = max(slope, 0.0) * float(when[-1] - when[0])
            last = counts[-1]
            after = late[late > last]
            tail = float(f.qty[r[last]]) + np.cumsum(flow[after])
            tail = tail[judged[after]]
            deficit = max(-float(tail.min()), 0.0) if len(tail) else 0.0
            unexplained = surplus + deficit
            if unexplained <= 0:
                return None
            return unexplained, {"counts": len(counts), "count_surplus": round(surplus, 2),
                                 "below_zero_after_last_count": round(deficit, 2),
                                 "opening": first}
        if not inflow.any():
            return None  # a shelf drawn down from before the window: not judged
        t, flow, judged = lag[late], flow[late], judged[late]
        book = np.cumsum(flow)
        opening = t < t[0] + self.OPENING_DAYS * DAY
        later = judged & ~opening
        if not later.any():
            return None
        floor0 = min(float(book[opening].min()), 0.0)
        low = float(book[later].min())
        if low >= floor0:
            return None
        # New lows month after month: a book that keeps sinking, not one opening offset.
        running = np.minimum.accumulate(book)
        new_low = later & (book <= running) & (book < floor0)
        months = {int((x + 5 * 3600) // (30.44 * DAY)) for x in t[new_low]}
        if len(months) < self.NEW_LOW_MONTHS:
            return None
        return floor0 - low, {"counts": 0, "book_low": round(low, 2),
                              "opening_low": round(floor0, 2), "months_new_low": len(months)}

    def _alert(self, ctx: DetectionContext, est: int, prod: int, rows: np.ndarray,
               unexplained: float, units_out: float, units_in: float, unbooked: float,
               detail: dict) -> AlertDraft:
        f = ctx.frame
        name, product = f.estv.name(est), f.prodv.name(prod)
        share = unexplained / max(units_out, 1.0)
        strength = min(1.0, share / self.FULL_SHARE) * 0.9
        mme = unexplained * float(ctx.registry.prod_mme[prod])
        t0, t1 = int(f.t[rows].min()), int(f.t[rows].max())
        how = (f"sus conteos físicos muestran {fmt(unexplained)} unidades más de las que sus "
               f"libros permiten" if detail.get("counts") else
               f"su saldo en libros cae a {fmt(detail['book_low'])} unidades")
        summary = (f"{name} entregó {fmt(units_out)} unidades de {product} entre {day_str(t0)} "
                   f"y {day_str(t1)} con solo {fmt(units_in)} recibidas: {how}, "
                   f"{fmt(unexplained)} unidades ({share:.0%} de lo que salió) sin "
                   f"abastecimiento registrado.")
        out_rows = rows[np.isin(f.etype[rows], [EVENT_TYPES.index(e) for e in
                                                 ("dispense", "administer", "transfer_out")])]
        return self.draft(
            name, t0, t1, strength, mme, summary,
            {"metric": "units out with no recorded supply", "observed": round(unexplained, 2),
             "expected": 0.0, "share_of_outflows": round(share, 4), "product_code": product,
             "units_out": round(units_out, 2), "units_in": round(units_in, 2),
             "shipped_unbooked": round(unbooked, 2), **detail,
             **f.events(out_rows if len(out_rows) else rows)},
            department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
        )
