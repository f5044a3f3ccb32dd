"""Inventory reconciliation: book stock against physical counts, netted and time-tolerant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.frame import EVENT_CODE, Frame
from centinela.detect.scoring import (
    bh_keep,
    calibrate,
    p_from_z,
    robust_center_scale,
    strength_from_p,
)
from centinela.detect.util import groups
from centinela.ledger.records import EVENT_TYPES, STOCK_SIGN, Movement, Seizure

SHIPPING = ("import", "receipt", "transfer_in", "transfer_out", "export")


class InventoryDiscrepancy(Detector):
    """Units missing at physical counts, net of surpluses, against the units handled, compared
    with the establishment's peers.

    Per establishment × product. Between a start count a and the latest count z, the book says
    counted(a) + receipts − outflows; the shortfall is book − counted(z). Consecutive intervals
    telescope, so a miscount, a count stamped at the end of the shift or the next morning, or a
    count a day or two late moves units between neighbouring intervals and nets out: surpluses
    and shortfalls are netted in both directions over the whole run. The instant of each count is
    uncertain by ± 2 days (real counts are stamped when the form is filled, not when the shelf
    was counted): the book at a count is taken at the instant in that range that best agrees
    with it, so flows on the count's day never make a gap. Shipments are often booked days after
    they physically moved (a receipt entered when the paperwork is done, a sender's transfer_out
    entered the next day): receipts and transfers booked within 4 days of a count may lie on
    the other side of it — but only for a count the plain book does not explain: a count whose
    count-time range gives the same level as the count before it needs no shipment on the other
    side, so a monthly delivery booked the day after every count cannot excuse a steady
    shortfall. Receipts booked a week or more after the units arrived (the paperwork typed in
    late) are recognised from the sender's side: units that the senders' own ``transfer_out``
    records show shipped to the establishment in the 14 days before a count (before the end
    of its ± 2-day time range), not yet booked as received by then (the book at the count's
    best instant already holds what was) and booked within 14 days after it, may have been on
    the shelf, unbooked, when it was counted. A surplus at such a count may come down by those units as a start
    level, but never below the level of the count before it (that count's level as stamped,
    net of the shipments that explain its own surplus, or its lower bound if higher; a first
    count: by all of them): a surplus that the next booking takes back is a booking delay,
    while a steady shortfall never rises above the count before it and keeps its full size.
    A surplus that no shipment dated before the count explains (units off the books that
    later vanish; a delivery shipped days after the count) is still measured. A negative book balance reported as
    a count of zero is a surplus and never a shortfall. The start count is the one that gives
    the largest shortfall (a theft need not span the whole year), but a start level must be
    confirmed by the count before it (the lower of the two is taken): a surplus that only one
    count shows is a miscount or a count-time artifact, and measuring from it would turn the
    next, correct count into a shortfall.
    Score: shortfall ÷ max(units that left the stock over the run, 50) — units missing against
    units handled, with a floor so a 2-unit gap in a quiet month is not "200 %". Each
    establishment × product is a test: its share is compared with those of the same kind of
    establishment and product (robust z, median/MAD, σ ≥ 1 %), and flagged when the shortfall is
    ≥ 3 units and ≥ 2 % of what was handled and the p of z survives Benjamini–Hochberg (q = 5 %)
    over every series tested. Severity follows the size of the gap as well as its
    improbability: under 10 missing units a finding is at most low, under 30 at most medium (a
    handful of units at a count, a miscount or an unrecorded breakage, is for the next
    inspection visit, however unusual its share of a small shelf).

    Street seizures are independent evidence (police data, not the ledger): a series whose
    establishment still held on its books, at the seizure date, the seized unit (a seized
    serial that a movement names) or units of the seized lot (a lot, or a serial that no
    movement names: packs are often received by lot only), same product, seizures of the
    lookback window, is a hypothesis with a higher prior. The family is then tested with
    weighted Benjamini–Hochberg (Genovese, Roeder & Wasserman 2006: reject on p_i ÷ w_i; the
    weights average 1 and are fixed before the p-values, so the false discovery rate stays at
    q). Each seizure is one piece of evidence shared among the series it points to (a serial:
    its one holder; a lot: all its holders, often dozens of hospitals), and the linked series
    share a tenth of the weight budget in proportion to it (each w ≥ 1); the others share the
    rest (their bar about 10 % stricter). A seizure link alone is never a finding: the series
    must still be short at its counts by ≥ 3 units and ≥ 2 % of what it handled.

    Steady shortfall (the series against its own history). At a busy hospital a theft of a
    few ampoules a day is about 1 % of what it handles, under the peer test's 2 %; what gives
    it away is that the gap between book and count grows from count to count, while honest
    miscounts and count-time artefacts come and go. Over the counts of the window (≥ 6), the
    offset count − book at each count's stated instant is tested for a monotone decline
    (Mann–Kendall, ties corrected, one-sided); its size is the Theil–Sen decline over the
    counts. A finding needs a decline of ≥ 30 units, ≥ 0.5 % of the units handled and ≥ one
    day of the series' mean outflow (a count stamped a day off moves the offset by about a
    day of use), lost over ≥ 4 count-to-count intervals with no single interval holding more
    than half of it (one write-off or one miscount is not a steady shortfall), and the p must
    survive Benjamini–Hochberg (q = 5 %) over every series with enough counts (its own
    family; a series the peer test flagged is not tested again). Severity follows the size
    of the decline as above.
    """

    name = "inventory_discrepancy"
    title = "Faltante en conteo de inventario / Inventory shortfall at count"
    tolerates = (
        "counts stamped at the start of the shift, the next morning or a day or two late (+/-"
        " 2 days), shipments booked up to 4 days on the other side of a count, receipts booked"
        " up to 14 days after a count that the sender's transfer_out dates before it (the "
        "surplus they leave at the count is not a start level), miscounts "
        "corrected later (netting in both directions), a surplus seen at only one count (a start"
        " level must be confirmed by the previous count), a negative book counted as zero, quiet"
        " months (floor of 50 units handled), and chance across all series (peer z, "
        "Benjamini-Hochberg). A lot seized on the street that an establishment still held on "
        "its books raises the prior of its series (weighted Benjamini-Hochberg) but is never a "
        "finding without its own shortfall; a lot held by many is evidence shared among them. "
        "A gap of a few units is graded low (under 10 units) or at most medium (under 30). "
        "Steady-shortfall path: one write-off or miscount (no interval may hold half the "
        "decline), counts stamped after the day's use (>= a day of mean outflow and >= 0.5 % "
        "of units handled), rounding habits (>= 30 units)."
    )
    subject_kind = "establishment"
    topics = ("diversion", "inventory")
    thresholds = {"count-time uncertainty": "± 2 days (book taken at the best-agreeing instant)",
                  "shipment booking lag": "receipts/transfers within 4 days of a count, only "
                                          "when the plain book does not explain the count",
                  "shipped before a count, booked as received after it": "sender's "
                  "transfer_out in [count − 14 days, count + 2 days], receipt booked 2-14 days after; "
                  "lowers a surplus "
                  "start level at most to the count before it",
                  "net missing units (start count → latest count)": "≥ 3",
                  "share of units handled (floor 50 units)": "≥ 2 %",
                  "peer robust z (same establishment kind and product)": "BH q = 5 %",
                  "series holding a lot seized on the street":
                      "weighted BH, a tenth of the weight shared among them (w ≥ 1)",
                  "severity by size": "< 10 missing units: at most low; < 30: at most medium",
                  "steady shortfall (own history, >= 6 counts)":
                      "Mann-Kendall decline, BH q = 5 %; Theil-Sen decline >= 30 units, >= 0.5 % "
                      "of units handled, >= 1 day of outflow; >= 4 short intervals, none > half"}
    evidence_fields = ("products", "missing_units", "units_out", "share", "z", "p_value",
                       "seizures")

    BOOKING_LAG_DAYS = 4
    TRANSIT_DAYS = 14  # a shipment's transit plus the receiver's booking of it
    # (missing units below, highest score): under 10 units at most low, under 30 at most medium.
    SIZE_CEILINGS = ((10.0, 39.0), (30.0, 64.0))
    SLACK_DAYS, MIN_UNITS, MIN_SHARE, FLOOR_UNITS, SIGMA_FLOOR, Q = 2, 3.0, 0.02, 50.0, 0.01, 0.05
    SEIZURE_WEIGHT_SHARE = 0.1  # share of the weighted-BH budget for series a seizure points to
    # Steady shortfall (trend path): counts in the window, net missing units (and share of the
    # units handled), count-to-count losses, and the largest single loss's share of the total.
    TREND_MIN_COUNTS, TREND_MIN_UNITS, TREND_MIN_SHARE = 6, 30.0, 0.005
    TREND_MIN_STEPS, TREND_MAX_STEP_SHARE, TREND_MAX_POINTS = 4, 0.5, 60

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
        order = np.lexsort((is_count[rows], f.t[rows], key))
        rows, key = rows[order], key[order]
        flow = sign_of_code[f.etype[rows]] * f.qty[rows]
        moved = np.where(flow < 0, -flow, 0.0)  # units that left the stock
        cum, cum_moved = np.cumsum(flow), np.cumsum(moved)
        # Shipments in and out: the flows whose booking lags the physical move by days.
        ship = np.isin(f.etype[rows], [EVENT_CODE[e] for e in SHIPPING])
        cum_in = np.cumsum(np.where(ship & (flow > 0), flow, 0.0))
        cum_out = np.cumsum(np.where(ship & (flow < 0), -flow, 0.0))
        t = f.t[rows]
        slack = self.SLACK_DAYS * DAY
        lag = self.BOOKING_LAG_DAYS * DAY
        # Units the senders' own records show shipped to this establishment before each count
        # and booked as received after it (within the transit window): they may have been on
        # the shelf, unbooked, when it was counted.
        pending = self._shipped_unbooked(f, key_all, counted_keys, width, key, t,
                                         is_count[rows])
        series: list[dict] = []
        for _, pos in groups(key, np.arange(len(rows))):
            lo_key, hi_key = int(pos.min()), int(pos.max()) + 1
            cpos = pos[is_count[rows[pos]]]
            if len(cpos) < 2 or f.t[rows[cpos[-1]]] < ctx.start_t:
                continue
            base = cum[lo_key - 1] if lo_key > 0 else 0.0
            tk = t[lo_key:hi_key]
            a_val, b_val, plain, stamped = [], [], [], []
            for c in cpos:
                lo = lo_key + int(np.searchsorted(tk, t[c] - slack, "left"))
                hi = lo_key + int(np.searchsorted(tk, t[c] + slack, "right"))
                span = cum[lo:hi]
                before = cum[lo - 1] if lo > lo_key else base
                cmax = max(float(span.max(initial=before)), before)
                cmin = min(float(span.min(initial=before)), before)
                counted = float(f.qty[rows[c]])
                # A shipment booked up to the lag after (receipts) or before (transfers out) the
                # count may already be on the other side of it physically.
                w0 = lo_key + int(np.searchsorted(tk, t[c] - lag, "left"))
                w1 = lo_key + int(np.searchsorted(tk, t[c] + lag, "right"))

                def at(arr, i, lo=lo_key):
                    return float(arr[i - 1]) if i > lo else (float(arr[lo - 1]) if lo > 0 else 0.0)

                in_after, in_before = at(cum_in, w1) - at(cum_in, c + 1), at(cum_in, c + 1) - at(cum_in, w0)
                out_after, out_before = (at(cum_out, w1) - at(cum_out, c + 1),
                                         at(cum_out, c + 1) - at(cum_out, w0))
                here = float(cum[c])
                stamped.append(counted - here)  # count − book at the stated instant
                # As a start: the book counted from its best instant or booking; as the end: the
                # same, in the other direction.
                a_val.append(counted - max(cmax, here + in_after + out_before))
                b_val.append(counted - min(cmin, here - in_before - out_after))
                # A count that agrees with the plain book as the count before it did (their
                # count-time ranges give a common level) needs no shipment booked on the other
                # side to explain it: a monthly delivery booked the day after every count must
                # not excuse a steady shortfall. The booking lag is used only by counts that
                # the plain book does not explain.
                plain.append((counted - cmax, counted - cmin))
                if len(plain) > 1 and plain[-1][0] <= plain[-2][1] + 1e-9 \
                        and plain[-2][0] <= plain[-1][1] + 1e-9:
                    a_val[-1], b_val[-1] = plain[-1]
            a_arr, b_arr = np.array(a_val), np.array(b_val)
            # A surplus at a count that the senders' records explain (units shipped before the
            # count, booked as received after it) is a booking delay, not a level to measure
            # later counts from: the start level may come down by those units, but never below
            # the level of the count before it (a count with no predecessor: by all of them).
            # A steady shortfall never rises above the count before it, so this cannot excuse
            # it; it only removes surpluses that the next booking takes back.
            # The floor is the level of the count before: as stamped, net of the shipments
            # that explain its own surplus (or its lower bound over the count-time range, if
            # higher).
            floor = -np.inf
            for i, c in enumerate(cpos):
                if pending[0, c] > 0:
                    a_arr[i] = min(a_arr[i], max(plain[i][0] - pending[0, c], floor))
                level = float(f.qty[rows[c]]) - float(cum[c])
                if pending[1, c] > 0:
                    level = min(level, max(level - pending[1, c], floor))
                floor = max(float(a_arr[i]), level)
            z = len(cpos) - 1
            in_win = np.array([f.t[rows[c]] >= ctx.start_t - 31 * DAY for c in cpos[:-1]])
            if not in_win.any():
                continue
            # A start level must be seen at two consecutive counts: a surplus at one count that
            # the count before it does not show (a miscount, a count taken before a dispense
            # but stamped after it, a split receipt booked on the other side of the count) is
            # not a baseline to measure later counts from. The first count has no predecessor.
            start_level = a_arr[:-1].copy()
            if len(start_level) > 1:
                start_level[1:] = np.minimum(a_arr[1:-1], a_arr[:-2])
            cand = np.where(in_win, start_level, -np.inf)
            a = int(np.argmax(cand))
            missing = float(cand[a] - b_arr[z])
            out_units = float(cum_moved[cpos[z]] - cum_moved[cpos[a]])
            series.append({"key": int(key[cpos[0]]), "est": int(f.est[rows[cpos[0]]]),
                           "product": int(f.product[rows[cpos[0]]]), "missing": missing,
                           "moved": out_units, "a": int(cpos[a]), "z": int(cpos[z]),
                           "share": missing / max(out_units, self.FLOOR_UNITS),
                           "counts": int(len(cpos) - a),
                           "trend": self._trend(np.array(stamped), f.t[rows[cpos]].astype(float),
                                                cum_moved[cpos], np.append(in_win, True))})
        if not series:
            return []
        kinds = ctx.registry.est_kind
        peer = np.array([hash((kinds[s["est"]] or "", s["product"])) for s in series])
        share = np.array([s["share"] for s in series])
        linked = self._seized_links(session, ctx)
        weight = self._weights(series, linked)
        cands = []
        for _, idx in groups(peer, np.arange(len(series))):
            med, sigma = robust_center_scale(share[idx], self.SIGMA_FLOOR) if len(idx) >= 5 \
                else (0.0, self.SIGMA_FLOOR)
            for i in idx:
                s = series[i]
                if s["missing"] < max(self.MIN_UNITS, self.MIN_SHARE * s["moved"]):
                    continue
                if share[i] < self.MIN_SHARE:
                    continue
                zval = (share[i] - max(med, 0.0)) / sigma
                s["seizures"] = linked.get((s["est"], s["product"]), [])
                s["weight"] = float(weight[i])
                cands.append((p_from_z(zval), zval, med, s))
        # Weighted Benjamini–Hochberg (all weights 1 when no seizure points to a series).
        keep = bh_keep([c[0] / c[3]["weight"] for c in cands], len(series), self.Q)
        findings: dict[int, list[tuple]] = {}
        flagged: set[int] = set()
        for c, k in zip(cands, keep, strict=True):
            if k:
                findings.setdefault(c[3]["est"], []).append(c)
                flagged.add(id(c[3]))
        # Steady shortfall (own history): the gap between book and count grows from count to
        # count. Its own family, Benjamini–Hochberg over the series with enough counts.
        trend_tested = [s for s in series if s["trend"] is not None]
        trend_cands = []
        for s in trend_tested:
            tr = s["trend"]
            drift = tr["drift"]
            if id(s) in flagged or drift < max(self.TREND_MIN_UNITS, self.TREND_MIN_SHARE * s["moved"],
                                               tr["daily_out"]):
                continue
            if tr["short_steps"] < self.TREND_MIN_STEPS or tr["max_step"] > self.TREND_MAX_STEP_SHARE * drift:
                continue
            s["missing"] = max(s["missing"], drift)
            s.setdefault("seizures", linked.get((s["est"], s["product"]), []))
            s.setdefault("weight", 1.0)
            s["trend_p"] = tr["p"]
            s["path"] = "steady"
            trend_cands.append((tr["p"], tr["z"], 0.0, s))
        keep = bh_keep([c[0] for c in trend_cands], len(trend_tested), self.Q)
        for c, k in zip(trend_cands, keep, strict=True):
            if k:
                findings.setdefault(c[3]["est"], []).append(c)
        return [self._alert(ctx, rows, est, items) for est, items in findings.items()]

    def _trend(self, offsets: np.ndarray, times: np.ndarray, moved: np.ndarray,
               in_win: np.ndarray) -> dict | None:
        """Mann–Kendall test of a steady decline of count − book over the counts of the window
        (``offsets``: each count's offset from the book at its stated instant; count-time noise
        only adds scatter, which a rank test absorbs, while the tolerant level sets the
        size of the gap). None
        with fewer than ``TREND_MIN_COUNTS`` counts. ``short_steps``: count-to-count intervals
        that lost units; ``max_step``: the largest such loss (a single jump is a miscount or a
        one-off adjustment, not a steady shortfall)."""
        first = int(np.argmax(in_win)) if in_win.any() else len(offsets)
        lo = max(first - 1, 0)
        o = offsets[lo:]
        if len(o) < self.TREND_MIN_COUNTS:
            return None
        if len(o) > self.TREND_MAX_POINTS:  # daily counts: test evenly spaced ones (bounded cost)
            keep = np.unique(np.linspace(0, len(o) - 1, self.TREND_MAX_POINTS).round().astype(int))
            o, times, moved = o[keep], times[lo:][keep], moved[lo:][keep]
            lo = 0
        n = len(o)
        # Size of the decline: Theil–Sen slope (median of the pairwise slopes, per count) over
        # the counts; and the mean daily outflow over them (a count stamped a day off moves
        # the offset by about a day of outflow).
        i, j = np.triu_indices(n, 1)
        drift = -float(np.median((o[j] - o[i]) / (j - i))) * (n - 1)
        days = max((times[-1] - times[lo]) / DAY, 1.0)
        daily_out = float(moved[-1] - moved[lo]) / days
        S = float(np.sign(o[j] - o[i]).sum())  # Mann–Kendall statistic over the same pairs
        _, counts = np.unique(o, return_counts=True)
        var = (n * (n - 1) * (2 * n + 5) - float((counts * (counts - 1) * (2 * counts + 5)).sum())) / 18.0
        if var <= 0:
            return {"p": 1.0, "z": 0.0, "short_steps": 0, "max_step": 0.0, "drift": 0.0,
                    "daily_out": daily_out}
        z = -(S + 1.0) / np.sqrt(var) if S < 0 else 0.0  # continuity-corrected, decline only
        steps = -np.diff(o)
        return {"p": p_from_z(float(z)), "z": float(z), "short_steps": int((steps > 0.5).sum()),
                "max_step": float(steps.max(initial=0.0)), "drift": drift, "daily_out": daily_out}

    def _shipped_unbooked(self, f: Frame, key_all: np.ndarray, counted_keys: np.ndarray, width: int,
                          key: np.ndarray, t: np.ndarray, count_row: np.ndarray) -> np.ndarray:
        """For each row of the series (``key``, ``t``; only counts are filled): the units its
        senders' ``transfer_out`` records show shipped to it within ``TRANSIT_DAYS`` before the
        count, not yet booked as received at the count, and booked as received within
        ``TRANSIT_DAYS`` after it (receipts and transfers in from senders that report their
        shipments) — min(shipped − received up to the count, shipped in the window, received
        after), never below 0. Row 0: booked after the count's time uncertainty (±
        ``SLACK_DAYS``); row 1: booked after its stamp."""
        out = np.zeros((2, len(key)))
        cidx = np.flatnonzero(count_row)
        if len(cidx) == 0:
            return out
        ok = (f.product >= 0) & (f.counterparty >= 0)
        ship = ok & f.is_type("transfer_out")
        ship_key = f.counterparty.astype(np.int64) * width + f.product
        ship &= np.isin(ship_key, counted_keys)
        if not ship.any():
            return out
        senders = np.unique(f.est[ship])
        recv = ok & f.is_type("receipt", "transfer_in") & np.isin(f.counterparty, senders) \
            & np.isin(key_all, counted_keys)
        h, slack = self.TRANSIT_DAYS * DAY, self.SLACK_DAYS * DAY
        t0 = int(min(f.t.min(), t.min())) - h - 1
        span = int(max(f.t.max(), t.max())) - t0 + h + 2

        def cumulative(keys: np.ndarray, times: np.ndarray,
                       qty: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
            comp = keys.astype(np.int64) * span + (times - t0)
            order = np.argsort(comp, kind="stable")
            comp, cs = comp[order], np.concatenate([[0.0], np.cumsum(qty[order])])

            def upto(k: np.ndarray, when: np.ndarray) -> np.ndarray:
                lo = np.searchsorted(comp, k * span, "left")
                hi = np.searchsorted(comp, k * span + (when - t0), "right")
                return np.asarray(cs[hi] - cs[lo], dtype=float)
            return upto

        shipped = cumulative(ship_key[ship], f.t[ship], f.qty[ship])
        received = cumulative(key_all[recv], f.t[recv], f.qty[recv])
        k, tc = key[cidx].astype(np.int64), t[cidx].astype(np.int64)
        # Shipped before the count was stamped, and not booked as received within the count's
        # time uncertainty (the book at the count's best instant already holds those).
        r_end = received(k, tc + h)
        for j, since in enumerate((tc + slack, tc)):
            # Row 0: the count taken anywhere in its time range (± slack), as the book at its
            # best instant is: shipped before its end, booked after it. Row 1: the count as
            # stamped: shipped before the stamp, booked after it.
            s_now, r_now = shipped(k, since), received(k, since)
            recent = s_now - shipped(k, tc - h)  # shipped within the transit window
            out[j, cidx] = np.maximum(np.minimum(np.minimum(s_now - r_now, recent),
                                                 r_end - r_now), 0.0)
        return out

    def _seized_links(self, session: Session, ctx: DetectionContext) -> dict[tuple[int, int], list[str]]:
        """(establishment, product) → the street seizures of the lookback window it still held
        on its books at the seizure date: for a seized serial, whoever holds that unit (its
        receipts minus its outflows > 0); for a lot, or a serial no movement names, every
        holder of the lot."""
        if ctx.realtime:
            return {}
        f = ctx.frame
        start = ctx.now - dt.timedelta(days=ctx.lookback_days)
        seizures = session.scalars(
            select(Seizure).where(Seizure.occurred_at <= ctx.now, Seizure.occurred_at >= start,
                                  (Seizure.lot.is_not(None)) | (Seizure.serial.is_not(None)))).all()
        links: dict[tuple[int, int], list[str]] = {}
        for sz in seizures:
            bal: dict[tuple[str, str], float] = {}
            # A serial that no movement names (packs are often received by lot only) is still
            # a unit of its lot: then the lot's holders are the candidates.
            for which in ([Movement.serial == sz.serial] if sz.serial else []) + \
                    ([Movement.lot == sz.lot] if sz.lot else []):
                q = select(Movement.establishment_id, Movement.product_code, Movement.event_type,
                           Movement.quantity).where(which, Movement.occurred_at <= sz.occurred_at,
                                                    Movement.event_type != "count")
                if sz.product_code:
                    q = q.where(Movement.product_code == sz.product_code)
                for est_id, prod, etype, qty in session.execute(q):
                    k = (est_id, prod)
                    bal[k] = bal.get(k, 0.0) + STOCK_SIGN.get(etype, 0) * float(qty or 0.0)
                if any(b > 1e-9 for b in bal.values()):
                    break
            for (est_id, prod), b in bal.items():
                e, pr = f.estv.code(est_id), f.prodv.code(prod)
                if b > 1e-9 and e >= 0 and pr >= 0:
                    links.setdefault((e, pr), []).append(sz.seizure_id)
        return links

    def _weights(self, series: list[dict], links: dict[tuple[int, int], list[str]]) -> np.ndarray:
        """Weighted-BH weights (mean 1). Each seizure is one piece of evidence shared among the
        series it points to (a serial: its one holder; a lot: every holder); the linked series
        share ``SEIZURE_WEIGHT_SHARE`` of the budget in proportion to that evidence (each ≥ 1),
        the others the rest."""
        m = len(series)
        holders: dict[str, int] = {}
        for sids in links.values():
            for sid in sids:
                holders[sid] = holders.get(sid, 0) + 1
        ev = np.array([sum(1.0 / holders[sid] for sid in links.get((s["est"], s["product"]), []))
                       for s in series])
        hit = ev > 0
        m_c = int(hit.sum())
        w = np.ones(m)
        if m_c == 0 or m_c == m:
            return w
        w[hit] = np.maximum(self.SEIZURE_WEIGHT_SHARE * m * ev[hit] / ev[hit].sum(), 1.0)
        # The others share what is left, so the weights still average 1.
        w[~hit] = max(m - float(w[hit].sum()), 0.0) / (m - m_c)
        return w

    def _alert(self, ctx: DetectionContext, rows: np.ndarray, est: int,
               items: list[tuple]) -> AlertDraft:
        f = ctx.frame
        name = f.estv.name(est)
        t0 = min(int(f.t[rows[s["a"]]]) for _, _, _, s in items)
        t1 = max(int(f.t[rows[s["z"]]]) for _, _, _, s in items)
        missing_units = sum(s["missing"] for _, _, _, s in items)
        moved = sum(s["moved"] for _, _, _, s in items)
        mme = sum(s["missing"] * float(ctx.registry.prod_mme[s["product"]]) for _, _, _, s in items)
        p = min(c[0] for c in items)
        zmax = max(c[1] for c in items)
        seizures = sorted({sid for _, _, _, s in items for sid in s["seizures"]})
        share = missing_units / max(moved, self.FLOOR_UNITS)
        ev_rows = np.array(sorted({int(rows[s[k]]) for _, _, _, s in items for k in ("a", "z")}))
        products = [{
            "product_code": f.prodv.name(s["product"]), "missing_units": round(s["missing"], 3),
            "units_out": round(s["moved"], 3), "share": round(s["share"], 4),
            "peer_median_share": round(float(med), 4), "z": round(float(zv), 2),
            "from": day_str(int(f.t[rows[s["a"]]])), "to": day_str(int(f.t[rows[s["z"]]])),
            "counts": s["counts"], "seizures": s["seizures"], "bh_weight": round(s["weight"], 3),
            "steady_decline": s.get("path") == "steady",
            "short_intervals": (s["trend"] or {}).get("short_steps"),
        } for _, zv, med, s in sorted(items, key=lambda c: -c[3]["missing"])]
        summary = (f"En los conteos de {name} faltan {fmt(missing_units, 1)} unidades frente al libro "
                   f"({100 * share:.1f} % de lo manejado, neto de sobrantes) entre {day_str(t0)} y "
                   f"{day_str(t1)}.")
        steady = [s for _, _, _, s in items if s.get("path") == "steady"]
        if steady:
            summary += (f" El faltante creció de conteo en conteo ({steady[0]['trend']['short_steps']} "
                        f"intervalos con faltante), no es un error de un solo conteo.")
        if seizures:
            summary += (f" Lotes que figuraban en sus libros fueron incautados en la calle "
                        f"({', '.join(seizures[:5])}).")
        # Severity follows the size of the gap, not only its improbability: a handful of
        # units at a count (a miscount, an unrecorded breakage) is for the next inspection
        # visit, however unusual its share.
        score, _ = calibrate(strength_from_p(p), mme)
        ceiling = 100.0
        for units, top in self.SIZE_CEILINGS:
            if missing_units < units:
                ceiling = top
                break
        return self.draft(
            name, t0, t1, strength_from_p(p), mme, summary,
            {"metric": "book − counted units (netted)", "observed": round(missing_units, 3),
             "expected": 0, "missing_units": round(missing_units, 3), "units_out": round(moved, 3),
             "share": share, "z": zmax, "p_value": p, "products": products[:10],
             "criteria": sorted({"steady_decline" if s.get("path") == "steady" else "peer_share"
                                 for _, _, _, s in items}),
             "seizures": seizures,
             **f.events(ev_rows)},
            department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
            score=min(score, ceiling),
        )
