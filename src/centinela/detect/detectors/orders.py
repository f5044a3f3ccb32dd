"""Suspicious orders (21 CFR 1301.74(b)) and purchases that outgrow reported use."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any

import numpy as np
from scipy import stats
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, fmt
from centinela.detect.context import DAY, DetectionContext, lima_day
from centinela.detect.frame import INBOUND, Vocab
from centinela.detect.scoring import (
    bh_keep,
    calibrate,
    p_from_z,
    percentile_of,
    robust_center_scale,
    strength_from_p,
)
from centinela.detect.util import groups, month_bounds, month_index, month_label
from centinela.ledger.records import EVENT_TYPES, STOCK_SIGN

OUTFLOW = ("dispense", "administer", "transfer_out", "export")
DISPOSAL = ("waste", "loss")
# Establishments that hold stock to dispense or administer it (wholesalers and manufacturers
# hold stock for others, so their stock in months of their own outflow means nothing).
DISPENSING_KINDS = ("pharmacy", "drugstore", "hospital", "clinic")


class _Monthly:
    """Monthly receipts (mg), receipt counts and use (mg) per establishment × substance.

    The frame's months come from its rows; older months from the history aggregates
    (establishment × product × event type × month, ``ctx.history``), so a year of baseline
    costs one cell per series and month, not its movements.
    """

    def __init__(self, ctx: DetectionContext) -> None:
        f, reg = ctx.frame, ctx.registry
        self.subv = Vocab()
        sub_of_prod = self.subv.encode(reg.prod_substance)
        width = len(self.subv) + 1
        ok = (f.est >= 0) & (f.product >= 0) & (f.t <= ctx.now_t)
        rows = np.flatnonzero(ok & f.is_type(*INBOUND, *OUTFLOW))
        old = _OlderCells(ctx, sub_of_prod, width)
        m_first = [int(month_index(np.array([f.t[rows].min()]))[0])] if len(rows) else []
        if old.flow.any():
            m_first.append(int(old.month[old.flow].min()))
        self.m0 = min(m_first) if m_first else int(month_index(np.array([ctx.now_t]))[0])
        self.last = int(month_index(np.array([ctx.now_t]))[0]) - self.m0
        nm = self.last + 1
        sub = sub_of_prod[f.product[rows]]
        key = f.est[rows].astype(np.int64) * width + sub
        self.keys, inv_all = np.unique(np.concatenate([key, old.key[old.flow]]), return_inverse=True)
        inv = inv_all[:len(key)]
        self.est = (self.keys // width).astype(np.int64)
        self.sub = (self.keys % width).astype(np.int64)
        mon = month_index(f.t[rows]) - self.m0
        cell = inv * nm + mon
        size = len(self.keys) * nm
        inbound = f.is_type(*INBOUND)[rows]
        mg = ctx.row_mg[rows]
        self.R = np.bincount(cell[inbound], weights=mg[inbound], minlength=size).reshape(-1, nm)
        self.N = np.bincount(cell[inbound], minlength=size).reshape(-1, nm).astype(float)
        self.U = np.bincount(cell[~inbound], weights=mg[~inbound], minlength=size).reshape(-1, nm)
        # Recorded disposal (waste, loss): leaves the stock but is not use.
        wrows = np.flatnonzero(ok & f.is_type(*DISPOSAL))
        wkey = f.est[wrows].astype(np.int64) * width + sub_of_prod[f.product[wrows]]
        wpos = np.searchsorted(self.keys, wkey)
        wok = ((wpos < len(self.keys)) & (self.keys[np.minimum(wpos, len(self.keys) - 1)] == wkey)
               if len(self.keys) else np.zeros(len(wkey), dtype=bool))
        wmon = month_index(f.t[wrows[wok]]) - self.m0
        wm_ok = (wmon >= 0) & (wmon < nm)
        self.W = np.bincount((wpos[wok] * nm + wmon)[wm_ok], weights=ctx.row_mg[wrows[wok]][wm_ok],
                             minlength=size).reshape(-1, nm)
        self.first_t_old = old.add(self, nm)
        active = (self.R > 0) | (self.U > 0)
        self.first = np.where(active.any(axis=1), active.argmax(axis=1), nm)
        self.rows, self.inv, self.mon, self.inbound = rows, inv, mon, inbound
        self.mme_per_mg = np.divide(ctx.row_mme[rows], mg, out=np.zeros(len(rows)), where=mg > 0)
        self._kinds = reg.est_kind

    @cached_property
    def peer_month(self) -> np.ndarray:
        """Each series' peer-typical month of receipts (mg): the median of the positive monthly
        receipts of every series of the same kind of establishment and substance."""
        out = np.zeros(len(self.keys))
        codes: dict[str, int] = {}
        kind = np.array([codes.setdefault(self._kinds[int(e)] or "", len(codes)) for e in self.est],
                        dtype=np.int64)
        width = int(self.sub.max()) + 1 if len(self.sub) else 1
        for _, idx in groups(kind * width + self.sub, np.arange(len(self.keys))):
            vals = self.R[idx][self.R[idx] > 0]
            out[idx] = float(np.median(vals)) if len(vals) else 0.0
        return out


def month_end_stock(ctx: DetectionContext, mo: _Monthly, max_age_s: int | None = None) -> np.ndarray:
    """Return the stock (mg) of each establishment × substance at the end of each month.

    Each product's level is its last physical count rolled forward with the book (receipts in,
    outflows out) to the month's end; the substance's stock is the sum over its products. A
    month is unknown (nan) while any product that has moved has not been counted yet, and,
    with ``max_age_s``, while any product's last count is older than that at the month's end
    (the level is then mostly the book's, not what was found on the shelf).
    """
    f, reg = ctx.frame, ctx.registry
    nm = mo.last + 1
    S = np.zeros((len(mo.keys), nm))
    known = np.zeros((len(mo.keys), nm), dtype=bool)
    has_count = np.zeros(len(mo.keys), dtype=bool)
    sub_of_prod = mo.subv.encode(reg.prod_substance)
    sign = np.array([STOCK_SIGN[n] for n in EVENT_TYPES], dtype=float)
    ok = (f.est >= 0) & (f.product >= 0) & (f.t <= ctx.now_t)
    width = len(f.prodv) + 1
    pk = f.est.astype(np.int64) * width + f.product
    is_count = f.is_type("count")
    rows = np.flatnonzero(ok & (is_count | f.is_type(*INBOUND, *OUTFLOW, *DISPOSAL)))
    if len(rows) == 0 or len(mo.keys) == 0:
        return np.full((len(mo.keys), nm), np.nan)
    # Within one instant the flows come first: a count states the level after them.
    rows = rows[np.lexsort((is_count[rows], f.t[rows], pk[rows]))]
    ends = np.array([month_bounds(mo.m0 + m)[1] for m in range(nm)], dtype=np.int64)
    unknown = np.zeros((len(mo.keys), nm), dtype=bool)
    for k, sel in groups(pk[rows], rows):
        e, prod = divmod(int(k), width)
        key = e * (len(mo.subv) + 1) + int(sub_of_prod[prod])
        g = int(np.searchsorted(mo.keys, key))
        if g >= len(mo.keys) or mo.keys[g] != key:
            continue
        t = f.t[sel]
        cnt = is_count[sel]
        cum = np.cumsum(np.where(cnt, 0.0, sign[f.etype[sel]] * f.qty[sel]))
        cidx = np.flatnonzero(cnt)
        last = np.searchsorted(t, ends, "right") - 1  # last row at or before each month end
        if len(cidx) == 0:
            unknown[g] |= last >= 0  # moved but never counted: its level is not known
            continue
        has_count[g] = True
        off = f.qty[sel][cidx] - cum[cidx]  # count − book at each count
        j = np.searchsorted(cidx, last, "right") - 1  # last count at or before that row
        level = np.where(j >= 0, cum[np.maximum(last, 0)] + off[np.maximum(j, 0)], 0.0)
        unknown[g] |= (last >= 0) & (j < 0)
        if max_age_s is not None:
            counted_at = t[cidx][np.maximum(j, 0)]
            unknown[g] |= (last >= 0) & (j >= 0) & (ends - counted_at > max_age_s)
        S[g] += np.where(last >= 0, level, 0.0) * float(reg.prod_mg[prod])
        known[g] |= j >= 0
    return np.where(known & ~unknown & has_count[:, None], S, np.nan)


def _level_at(f, sel: np.ndarray, t: int, sign: np.ndarray, is_count: np.ndarray) -> float:
    """One product's stock at ``t``: its last count at or before ``t`` rolled forward with the
    book (``sel``: the product's rows, time-ordered, counts after flows of the same instant);
    nan when it was not counted by then."""
    upto = sel[f.t[sel] <= t]
    counts = np.flatnonzero(is_count[upto])
    if len(counts) == 0:
        return float("nan")
    c = counts[-1]
    after = upto[c + 1:]
    flows = after[~is_count[after]]
    return float(f.qty[upto[c]] + (sign[f.etype[flows]] * f.qty[flows]).sum())


def _built_products_reordered(ctx: DetectionContext, mo: _Monthly, g: int, a: int, m: int,
                              last_full: int) -> bool:
    """True when the presentations whose counted stock grew from month ``a`` to ``m`` were
    ordered again afterwards (receipts ≥ half their outflows, and some). A batch of one
    presentation bought for a spike and left on the shelf while the establishment orders
    another one (2 mL ampoules after a box of 10 mL) is dead stock, not ordering that goes
    on as if the shelf were empty."""
    f, reg = ctx.frame, ctx.registry
    est, sub = int(mo.est[g]), int(mo.sub[g])
    sub_of_prod = mo.subv.encode(reg.prod_substance)
    rows = np.flatnonzero((f.est == est) & (f.product >= 0) & (f.t <= ctx.now_t))
    rows = rows[sub_of_prod[f.product[rows]] == sub]
    is_count = f.is_type("count")
    rows = rows[np.lexsort((is_count[rows], f.t[rows]))]
    sign = np.array([STOCK_SIGN[n] for n in EVENT_TYPES], dtype=float)
    inbound = f.is_type(*INBOUND)
    t_a, t_m = month_bounds(mo.m0 + a)[1], month_bounds(mo.m0 + m)[1]
    t_end = month_bounds(mo.m0 + last_full)[1]
    received = used = 0.0
    for prod in np.unique(f.product[rows]):
        sel = rows[f.product[rows] == prod]
        grew = _level_at(f, sel, t_m, sign, is_count) - _level_at(f, sel, t_a, sign, is_count)
        if not grew > 0:  # also nan: not counted
            continue
        after = sel[(f.t[sel] > t_m) & (f.t[sel] <= t_end) & ~is_count[sel]]
        mg = float(reg.prod_mg[prod])
        received += float(f.qty[after][inbound[after]].sum()) * mg
        used += float(f.qty[after][~inbound[after]].sum()) * mg
    return received > 0 and received >= 0.5 * used


class _OlderCells:
    """The history before the frame as establishment × substance × month cells (mg, count)."""

    def __init__(self, ctx: DetectionContext, sub_of_prod: np.ndarray, width: int) -> None:
        f, reg = ctx.frame, ctx.registry
        hist = ctx.history
        n = 0
        if hist is not None:
            g = hist.grouped(("establishment", "product", "event_type"),
                             (*INBOUND, *OUTFLOW, *DISPOSAL), monthly=True)
            est, prod = g.codes("establishment", f.estv), g.codes("product", f.prodv)
            ok = (est >= 0) & (prod >= 0)
            n = int(ok.sum())
        if n == 0:
            self.key = self.month = self.first_t = np.zeros(0, np.int64)
            self.mg = self.count = np.zeros(0)
            self.flow = self.inbound = self.disposal = np.zeros(0, bool)
            return
        assert g.month is not None
        est, prod = est[ok], prod[ok]
        known = prod < len(sub_of_prod)
        safe = np.where(known, prod, 0)
        sub = np.where(known, sub_of_prod[safe], -1)
        self.key = est * width + sub
        self.month = g.month[ok]
        self.mg = np.where(known, g.qty[ok] * reg.prod_mg[safe], 0.0)
        self.count = g.rows[ok].astype(float)
        self.first_t = g.first_t[ok]
        etype = np.array(g.keys["event_type"], dtype=object)[ok]
        self.inbound = np.isin(etype, INBOUND)
        self.disposal = np.isin(etype, DISPOSAL)
        self.flow = ~self.disposal

    def add(self, mo: _Monthly, nm: int) -> np.ndarray:
        """Add the cells to ``mo``'s R, N, U, W; return each series' earliest time there."""
        first_t = np.full(len(mo.keys), np.iinfo(np.int64).max)
        if len(self.key) == 0:
            return first_t
        pos = np.searchsorted(mo.keys, self.key)
        series = (pos < len(mo.keys)) & (mo.keys[np.minimum(pos, len(mo.keys) - 1)] == self.key)
        np.minimum.at(first_t, pos[series], self.first_t[series])
        mon = self.month - mo.m0
        hit = series & (mon >= 0) & (mon < nm)
        cell = pos * nm + mon
        size = len(mo.keys) * nm
        for target, sel, w in ((mo.R, self.inbound, self.mg), (mo.N, self.inbound, self.count),
                               (mo.U, self.flow & ~self.inbound, self.mg),
                               (mo.W, self.disposal, self.mg)):
            s = hit & sel
            target += np.bincount(cell[s], weights=w[s], minlength=size).reshape(-1, nm)
        return first_t


class SuspiciousOrder(Detector):
    """Orders of unusual size or frequency that the establishment's own use does not explain.

    Per establishment × substance (mg, so switching presentations is not a change), month by month,
    the screening rules of 21 CFR 1301.74(b) (orders of unusual size, deviating from the normal
    pattern, or of unusual frequency), as DEA's common screening rules state them:

    * size: receipts ≥ 2× the trailing 12-month mean and ≥ 2× the mean of the last 3 months
      (≥ 3 months of history, ≥ 3 of them with receipts) and above the maximum of the prior 6
      months — an establishment that grew (opened mid-year, a ward expanded) is judged against
      its recent level; or
    * frequency: number of orders ≥ 2× the trailing mean (and ≥ 3) with Poisson tail < 1e-3.

    A screened month is a finding only when its own use does not explain it. Over that month and
    up to five more (what is known at ``now``; at least the month after it, because an order
    covers the coming weeks and an order received on the last day cannot have been used yet),
    the net inflow (received − dispensed, administered,
    shipped, exported, wasted or lost, in mg) is compared with the series' own history: its mean
    monthly net inflow μ and standard deviation σ over the trailing months, so
    z = (Σ net − (h+1)·μ) ÷ (σ·√(h+1)). σ is the classical (not robust) deviation, so a series whose
    orders are lumpy (a pack bought every few months) is judged on its own lumpiness, with a floor
    of half a typical month of receipts (one order more or less is never evidence). z is taken
    after each month of the horizon (a CUSUM of the net inflow) and the largest kept, its p
    multiplied by the number of months looked at (Bonferroni). The effect
    must also be material: at least half of the extra quantity ordered (above the trailing mean)
    is not matched by extra use (above its own trailing mean). A stock-up followed by smaller
    orders, or a new ward whose use grows with its orders, nets out; orders whose surplus never
    shows up as use accumulate. Because every establishment × substance × month is
    screened, the one-sided p of z must survive Benjamini–Hochberg (q = 5 %) over all the
    series-months tested in the run, and the unexplained quantity must be at least one typical
    month of receipts. Ordering more than peers is reported as evidence (peer percentile) but is
    not a criterion: a cancer institute orders far more than hospitals of its size and uses all of
    it. Consecutive months merge.

    The expected net inflow is the prior months' mean net inflow, never below zero (a stock
    drawn down before the order is not extrapolated over the horizon).

    Extra receipts found on the shelf are not missing: when a physical count no older than 35
    days at the end of the horizon's latest month so counted shows the stock grown from the
    month before the order (its last count rolled forward with the book, which units gone
    unrecorded could only make larger), and the stock then held is a normal holding (≤ 2
    months of the largest monthly outflow from three months before the order to the horizon's
    end, plus the largest single receipt of the six months before the order, which can sit
    unopened — the order judged cannot excuse itself: a pharmacy that stocked up for a new
    patient who then stopped), that growth is taken off the
    unexplained net inflow, which must still be ≥ a typical month of receipts. A larger
    holding is left to the stock build-up rule below; a count that does not find the units
    excuses nothing.

    Stock-ups judged one at a time: a later order of a like size (≥ 2× the baseline and ≥ half
    the order judged) that comes after a pause (a month in between with receipts under the
    baseline) is a new stock-up, judged on its own; the horizon of the earlier one ends the
    month before it (a pharmacy stocking up before Fiestas Patrias and again before
    Christmas). Elevated orders month after month are one episode. An order whose excess
    fell under a typical month of receipts in any later month of its horizon was used up by
    the recorded outflows (drawn down) and is not a finding. The shelf credit compares the
    latest recent count of the horizon with the excess up to that same month (units
    received after a count can be neither on its shelf nor missing from it).

    A finding whose follow-up is only the order month and the next one (an order received in
    the last full month of the data; a current month the data reaches by less than a week,
    perhaps only the counts of its first day, is no month of follow-up; in an episode of
    consecutive months, the follow-up of its largest order) is provisional: an order of two or more typical months
    has not had time to be used, so an ordinary stock-up and a diverted order still look the
    same apart from their size. It is listed at ``low`` ("provisional") and graded as usual
    when a later run sees a longer follow-up (the open alert takes the new occurrence).

    Pattern rule (stock build-up), for establishments that dispense or administer (pharmacies,
    drugstores, hospitals, clinics). An honest pharmacy orders to replace what it uses: its
    stock holds a month or two of use plus a pack, and a large order is followed by smaller
    ones until it is used (you do not order while the shelf is full). Orders that go to the
    back door leave a different trace when the counts are kept to match the books (21 CFR
    1301.74(b): orders "deviating substantially from a normal pattern"): the stock on the
    books grows by many months of use and stays there, while the establishment goes on ordering
    as if it held nothing. Month-
    end stock is each product's last physical count rolled forward with the book. A build-up
    over 1–4 months (a → m) is flagged when, with u the largest of the monthly use (outflows,
    waste and losses) before, during and after it: the stock grew by ≥ 4 months of use (twice
    the upper end of a normal holding) and by more than the largest single receipt (one order
    can sit unopened); use did not fall below half its level before or during it (a shelf left
    full when a patient stopped is not an order pattern); over ≥ 2 full months after it the stock never fell
    below half the build-up (not drawn down), it held ≥ 4 months of use on average (a shelf
    refilled from nearly empty to three months of a new patient's use is restocking) and receipts were ≥ half the outflows (ordering
    went on; the largest receipt includes the month after the build-up, as a delivery found by
    a month-end count may be booked days later), also for the presentations whose stock was
    built (a box of 10 mL ampoules bought
    for a spike and left on the shelf while the establishment orders 2 mL ampoules is dead
    stock, not ordering as if the shelf were empty). Its strength: the build-up against the series' own month-to-month stock changes
    outside it (z = ΔS ÷ (σ·√months), steady state of no net change, σ floor half a typical
    month of receipts), the p multiplied by the 4 build-up lengths looked at, and Benjamini–
    Hochberg (q = 5 %) over every series tested. The alert asks for the physical stock to be
    verified: a surplus that is only on paper left by the back door.

    Hoard variant of the pattern rule: orders far beyond any use the establishment ever had,
    kept on the books. A dispensing establishment that reported activity (any substance) for
    at least two months before the build-up receives, over 1–4 months, stock that then stays
    (≥ 2 full months, never below half the build-up) although it is ≥ 12 months of the largest
    monthly use of the substance there (before, during or after it; none at all counts) and
    ≥ 4 typical months of receipts of its peers (median monthly receipts of the same kind of
    establishment and substance). Neither use before it nor ordering after it is required:
    a pharmacy that never sold fentanyl patches and books 600 of them in one month, dispensing
    ten a month afterwards, holds years of stock no pharmacy buys to sell. A pharmacy opening
    with its first stock (no earlier activity), a slow mover's one box (many months of its own
    use, about a typical month of its peers') and a stock-up sold through are not hoards. Its
    strength and multiple-testing control are the build-up rule's (same family).
    """

    name = "suspicious_order"
    title = "Pedido sospechoso / Suspicious order"
    tolerates = (
        "stock-ups followed by smaller orders, new wards whose use grows with their orders, "
        "establishments that grew during the year (recent 3-month level as a second baseline), "
        "lumpy ordering (judged on the series' own variability), orders received at month end"
        " (the next months' use counts), surplus that a recent count finds on the shelf as a "
        "normal holding (<= 2 months of the largest monthly outflow plus one usual order), and "
        "chance across all "
        "series-months (Benjamini-Hochberg), stock-ups sold through (the excess used up in a "
        "later month) and a second holiday stock-up after a pause (judged on its own). With only one month of follow-up a finding is provisional (low). Stock "
        "build-up rule: normal holdings (< 4 months of use built), one order still unopened "
        "(the build-up must exceed the largest receipt), stock-ups drawn down afterwards, "
        "shelves left full when use fell away, a single count in the wrong unit (the stock "
        "must stay for >= 2 full months), dead stock of one presentation while another is "
        "ordered, the partial current month, and wholesalers. Hoard variant: pharmacies opening "
        "with their first stock (activity >= 2 months before required), one box of a slow "
        "mover (< 4 typical months of peers' receipts), stock-ups sold through."
    )
    subject_kind = "establishment"
    topics = ("diversion", "suspicious_order")
    thresholds = {"size vs trailing 12-month mean and vs last 3 months": "≥ 2× both", "vs prior 6-month max": ">",
                  "frequency": "≥ 2× and Poisson p < 1e-3", "history": "≥ 3 months",
                  "net inflow not explained by use (≤ 6 months)":
                      "z vs own history, Benjamini–Hochberg q = 5 % over all series-months",
                  "unexplained": "≥ 1 typical month of receipts (after stock a count ≤ 35 days old "
                                 "finds on the shelf, when it is ≤ 2 months of outflow + one receipt)",
                  "stock build-up (1–4 months, dispensing establishments)":
                      "≥ 4 months of use and > largest single receipt; use ≥ ½ its level before",
                  "build-up kept": "≥ 2 full months, stock ≥ half the build-up, receipts ≥ ½ outflows",
                  "build-up vs own stock changes": "z, p × 4, Benjamini–Hochberg q = 5 % over series",
                  "hoard (kept build-up, no use or ordering required)":
                      "≥ 12 months of the largest monthly use and ≥ 4 peer-typical months of receipts"}
    evidence_fields = ("orders", "criteria", "observed", "expected", "prior_6_month_max",
                       "use_ratio", "net_inflow_z", "peer_percentile", "built_mg",
                       "cover_months_before", "cover_months_after")

    HORIZON, MIN_HORIZON, Q, SIGMA_FLOOR_MONTHS, P_SCREEN = 6, 2, 0.05, 0.5, 1e-3
    RECENT_MONTHS = 3  # the recent level a growing establishment's orders are compared with
    GRADED_HORIZON = 3  # months of follow-up (order month included) before a graded severity
    # Pattern rule (stock build-up): months of use the counted stock must grow by, the longest
    # build-up looked at, and the full months it must then be kept while ordering goes on.
    BUILD_MIN_MONTHS, BUILD_MONTHS_MAX, BUILD_FOLLOW_UP = 4.0, 4, 2
    PROVISIONAL_MAX = 35.0  # below the medium band (40)
    FOLLOW_UP_MIN_DAYS = 7  # days of a partial current month before it counts as follow-up
    # Size/frequency rule: extra receipts that a recent count (≤ 35 days before a month's end)
    # finds on the shelf, as a holding of ≤ 2 months of the largest monthly outflow plus the
    # largest single receipt of the six months before, are not missing.
    HOLD_MONTHS, COUNT_MAX_AGE_DAYS = 2.0, 35
    # Hoard variant of the build-up rule: months of the largest monthly use, and typical
    # months of receipts of peers (same kind, substance), that the kept build-up must reach.
    HOARD_MONTHS, HOARD_PEER_MONTHS = 12.0, 4.0
    # Magnitude: an unexplained order or a build-up under this many typical months of peers'
    # receipts (same kind, substance) is graded low (for the next inspection visit).
    MATERIAL_PEER_MONTHS = 1.0

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        if ctx.frame.n == 0:
            return []
        mo = _Monthly(ctx)
        R, N, U, W = mo.R, mo.N, mo.U, mo.W
        D = R - U - W  # net inflow: what neither use nor recorded disposal explains
        nm = mo.last + 1
        cR, cN, cU, cZ, cD, cD2 = (np.concatenate([np.zeros((len(R), 1)), np.cumsum(x, axis=1)], axis=1)
                                   for x in (R, N, U, (R > 0).astype(float), D, D * D))
        start_m = int(month_index(np.array([ctx.start_t]))[0]) - mo.m0
        cands: list[dict] = []
        n_tests = 0
        idx = np.arange(len(R))
        counted: np.ndarray | None = None
        booked: np.ndarray | None = None  # month-end stock, shared with the build-up rule
        big = np.zeros(0)
        # A current month the data reaches by less than a week (perhaps only its first day's
        # counts) adds its flows to the horizon but is no month of follow-up.
        seen = mo.last if ctx.now_t >= month_bounds(mo.m0 + mo.last)[0] + self.FOLLOW_UP_MIN_DAYS * DAY \
            else mo.last - 1

        def complete(m: int, h: int) -> int:
            return max(min(m + h, seen) - m + 1, 0)

        # An order covers the coming weeks: a month is judged once the month after it is known.
        for m in range(max(start_m, 0), nm - (self.MIN_HORIZON - 1)):
            a = np.maximum(mo.first, m - 12)
            n_prior = m - a
            a_ = np.minimum(a, m)
            # An established ordering pattern: ≥ 3 prior months, ≥ 3 of them with receipts.
            ok = (n_prior >= 3) & ((cZ[idx, m] - cZ[idx, a_]) >= 3)
            n_tests += int(ok.sum())
            if not ok.any():
                continue
            n_safe = np.maximum(n_prior, 1)
            meanR = (cR[idx, m] - cR[idx, a_]) / n_safe
            meanN = (cN[idx, m] - cN[idx, a_]) / n_safe
            meanU = (cU[idx, m] - cU[idx, a_]) / n_safe
            meanD = (cD[idx, m] - cD[idx, a_]) / n_safe
            varD = np.maximum((cD2[idx, m] - cD2[idx, a_]) / n_safe - meanD ** 2, 0.0)
            sdD = np.maximum(np.sqrt(varD * n_safe / np.maximum(n_safe - 1, 1)),
                             self.SIGMA_FLOOR_MONTHS * meanR)
            max6 = R[:, max(0, m - 6):m].max(axis=1) if m > 0 else np.zeros(len(R))
            Rm, Nm = R[:, m], N[:, m]
            # A growing establishment (a service opening mid-year, a ward expanding) has a normal
            # pattern at its recent level, not at a 12-month mean still holding the quiet
            # months before it: the size rule uses the larger of the two baselines.
            recent = (cR[idx, m] - cR[idx, np.maximum(m - self.RECENT_MONTHS, a_)]) / np.maximum(
                np.minimum(n_prior, self.RECENT_MONTHS), 1)
            size = ok & (Rm > 0) & (Rm >= 2 * np.maximum(meanR, recent)) & (Rm > max6)
            p_freq = stats.poisson.sf(Nm - 1, np.maximum(meanN, 1e-9))
            freq = ok & (Nm >= np.maximum(3, 2 * meanN)) & (p_freq < self.P_SCREEN)
            # Horizon: this month and up to five more (what is known at ``now``). A later
            # order of a like size (≥ 2× the baseline and ≥ half this one) after a pause (a month in between
            # with receipts under the baseline) is a new stock-up, judged on its own (a
            # pharmacy stocking up before Fiestas Patrias and again before Christmas): this
            # one's horizon ends the month before it. Elevated orders month after month are
            # one episode. The horizon always holds the month after the order.
            h = min(self.HORIZON - 1, mo.last - m)
            base = np.maximum(meanR, recent)
            seg = R[:, m + 1:m + h + 1]
            paused = np.cumsum(seg < base[:, None], axis=1) > 0
            paused = np.concatenate([np.zeros((len(R), 1), dtype=bool), paused[:, :-1]], axis=1) \
                if h > 0 else paused
            later = (seg >= np.maximum(2 * base, 0.5 * Rm)[:, None]) & (seg > 0) & paused
            first_later = np.where(later.any(axis=1), later.argmax(axis=1) + 1, h + 1) \
                if h > 0 else np.ones(len(R), dtype=np.int64)
            hg = np.clip(first_later - 1, min(self.MIN_HORIZON - 1, h), h).astype(np.int64)
            end = m + hg + 1
            sumR = cR[idx, end] - cR[:, m]
            sumU = cU[idx, end] - cU[:, m]
            # The expected net inflow is the prior months' mean, never below zero: a stock drawn
            # down before the order is not extrapolated (it would make any month an excess).
            drift = np.maximum(meanD, 0.0)
            excess = (cD[idx, end] - cD[:, m]) - drift * (hg + 1)
            # Cumulative excess after 1 … hg+1 months (a CUSUM); the largest z is kept and its p
            # is multiplied by the hg+1 looks taken (Bonferroni).
            z = np.full(len(R), -np.inf)
            ex_min = np.full(len(R), np.inf)  # smallest excess from the month after the order
            for j in range(1, h + 2):
                inside = j <= hg + 1
                ex_j = (cD[:, m + j] - cD[:, m]) - drift * j
                z = np.where(inside, np.maximum(z, np.divide(ex_j, sdD * np.sqrt(j),
                                                             out=np.full(len(R), -np.inf),
                                                             where=sdD > 0)), z)
                if j >= 2:
                    ex_min = np.where(inside, np.minimum(ex_min, ex_j), ex_min)
            # Effect size: at least half of the extra ordered (above the trailing mean) is not
            # matched by extra use (above its own trailing mean), and at least one typical month.
            extra_r = sumR - meanR * (hg + 1)
            extra_u = np.maximum(sumU - meanU * (hg + 1), 0.0)
            unexplained = ((extra_r - extra_u) >= np.maximum(0.5 * extra_r, meanR)) & (extra_r > 0)
            # Drawn down: a stock-up whose surplus the recorded outflows used up in a later month
            # of the horizon (the excess fell under a typical month) is explained by the
            # records, even when a new stock-up follows (judged as its own order).
            drawn = ex_min < meanR
            hit = np.flatnonzero((size | freq) & unexplained & (excess >= meanR) & (z > 0) & ~drawn)
            if len(hit):
                # The surplus found on the shelf: a recent physical count at the horizon's end
                # shows the extra received as stock, and that stock is a normal holding
                # (≤ HOLD_MONTHS of the largest monthly outflow around the order). What is still
                # missing after it must be ≥ a typical month of receipts, as above.
                if counted is None:
                    counted = month_end_stock(ctx, mo, max_age_s=self.COUNT_MAX_AGE_DAYS * DAY)
                    booked = month_end_stock(ctx, mo) if booked is None else booked
                    big = np.zeros(R.shape)  # largest single receipt of each month (mg)
                    np.maximum.at(big, (mo.inv[mo.inbound], mo.mon[mo.inbound]),
                                  ctx.row_mg[mo.rows[mo.inbound]])
                # Before the order, the last count rolled forward with the book: units gone
                # unrecorded since that count only make it larger (the credit smaller).
                s_before = booked[hit, m - 1] if m > 0 and booked is not None \
                    else np.full(len(hit), np.nan)
                # The latest month of the horizon whose stock a recent count states (the
                # current month is partial: its last count may be weeks before its end).
                s_end = np.full(len(hit), np.nan)
                # The excess up to that same month: units received after the count cannot
                # be on its shelf, nor missing from it.
                ex_end = excess[hit].copy()
                for j in range(m + h, m - 1, -1):
                    fill = np.isnan(s_end) & ~np.isnan(counted[hit, j]) & (j <= m + hg[hit])
                    ex_end = np.where(fill, (cD[hit, j + 1] - cD[hit, m]) - drift[hit] * (j - m + 1),
                                      ex_end)
                    s_end = np.where(fill, counted[hit, j], s_end)
                cols = np.arange(R.shape[1])
                around = (cols >= max(int(m) - self.RECENT_MONTHS, 0)) & (cols <= (m + hg[hit])[:, None])
                peak = np.where(around, (U + W)[hit], -np.inf).max(axis=1)
                # "A month or two of use plus a pack": one order of the usual size can sit
                # unopened (the largest single receipt of the six months before: the order
                # being judged cannot excuse itself).
                usual = big[hit, max(m - 6, 0):m].max(axis=1) if m > 0 else np.zeros(len(hit))
                holding = self.HOLD_MONTHS * peak + usual
                shelf = np.where(np.isnan(s_before) | np.isnan(s_end) | (s_end > holding), 0.0,
                                 np.maximum(s_end - np.nan_to_num(s_before), 0.0))
                on_shelf = ex_end - shelf < meanR[hit]
                hit = hit[~on_shelf]
            for g in hit:
                cands.append({
                    "g": int(g), "m": m, "p": min(1.0, (int(hg[g]) + 1) * p_from_z(float(z[g]))),
                    "z": float(z[g]),
                    "size": bool(size[g]), "freq": bool(freq[g]),
                    "R": float(Rm[g]), "meanR": float(meanR[g]), "max6": float(max6[g]),
                    "N": float(Nm[g]), "meanN": float(meanN[g]),
                    "use_ratio": float((sumU[g] / (hg[g] + 1)) / meanU[g]) if meanU[g] > 0 else None,
                    "horizon_months": int(hg[g]) + 1, "received_horizon": float(sumR[g]),
                    "complete_months": complete(m, int(hg[g])),
                    "excess": float(excess[g]),
                })
        keep = bh_keep([c["p"] for c in cands], n_tests, self.Q)
        flagged: dict[int, list[dict]] = {}
        for c, k in zip(cands, keep, strict=True):
            if k:
                c["tests"] = n_tests
                flagged.setdefault(int(mo.est[c["g"]]), []).append(c)
        out = [d for est, items in flagged.items() for d in self._episodes(ctx, mo, est, items)]
        S = booked if booked is not None else month_end_stock(ctx, mo)
        return out + self._build_ups(ctx, mo, start_m, S)

    def _build_ups(self, ctx: DetectionContext, mo: _Monthly, start_m: int,
                   S: np.ndarray) -> list[AlertDraft]:
        """Stock built by orders and kept while ordering goes on (the pattern rule); ``S`` is
        the month-end stock (``month_end_stock``)."""
        R, out = mo.R, mo.U + mo.W  # receipts and every outflow (mg per month)
        n, nm = R.shape
        # Follow-up only over full months: the current month is partial (its use is not known).
        last_full = mo.last - (1 if ctx.now_t < month_bounds(mo.m0 + mo.last)[1] - DAY else 0)
        kinds = np.array([ctx.registry.est_kind[int(e)] or "" for e in mo.est])
        dispensing = np.isin(kinds, DISPENSING_KINDS)
        big = np.zeros((n, nm))
        np.maximum.at(big, (mo.inv[mo.inbound], mo.mon[mo.inbound]),
                      ctx.row_mg[mo.rows[mo.inbound]])
        dS = np.diff(S, axis=1)  # monthly stock changes (nan where unknown)
        first_change = mo.first + 1  # the opening month's change is the opening stock
        mean_r = R.sum(axis=1) / np.maximum(nm - mo.first, 1)
        best: dict[int, dict[str, Any]] = {}
        tested = np.zeros(n, dtype=bool)
        # Hoard variant: the establishment (any substance) reported activity for months before
        # the build-up (a pharmacy opening with its first stock is not one), and the typical
        # month of receipts of the same kind of establishment and substance sets a material
        # floor (one box of a slow mover is many months of its own use, not a hoard).
        est_first = np.full(int(mo.est.max()) + 1 if n else 0, nm)
        np.minimum.at(est_first, mo.est, mo.first)
        first_of_est = est_first[mo.est] if n else np.zeros(0, np.int64)
        peer_month = mo.peer_month
        for m in range(max(start_m, 0), last_full - self.BUILD_FOLLOW_UP + 1):
            after = slice(m + 1, last_full + 1)
            n_after = last_full - m
            s_after = S[:, after]
            o_after = out[:, after].mean(axis=1)
            r_after = R[:, after].sum(axis=1)
            for a in range(max(m - self.BUILD_MONTHS_MAX, 0), m):
                if a < 2:
                    continue
                ub = out[:, a - 2:a + 1].mean(axis=1)
                known = ~np.isnan(S[:, m]) & ~np.isnan(s_after).any(axis=1)
                base_ok = (dispensing & (a - 2 >= mo.first) & (ub > 0) & ~np.isnan(S[:, a]) & known)
                # A substance the establishment never received or used before the build-up
                # started from an empty shelf (unless counted: then its count).
                s_a = np.where(np.isnan(S[:, a]) & (mo.first > a), 0.0, S[:, a])
                hoard_ok = dispensing & (a - 2 >= first_of_est) & ~np.isnan(s_a) & known \
                    & (peer_month > 0)
                if not (base_ok | hoard_ok).any():
                    continue
                tested |= base_ok | hoard_ok
                built = S[:, m] - s_a
                o_build = out[:, a + 1:m + 1].mean(axis=1)
                u = np.maximum(np.maximum(ub, o_build), o_after)
                # Use did not fall away (a stock left on the shelf by a patient who stopped is
                # not an order pattern), the stock grew by ≥ BUILD_MIN_MONTHS of use and by more
                # than one order (of the build-up or the month after it: a delivery on the shelf
                # at a month-end count but booked days later), it was kept (not drawn down) and
                # ordering went on.
                cond = (base_ok & (o_build >= 0.5 * ub) & (o_after >= 0.5 * np.maximum(ub, o_build))
                        & (built >= self.BUILD_MIN_MONTHS * u)
                        & (built > big[:, a + 1:min(m + 2, nm)].max(axis=1))
                        & (np.nan_to_num(s_after.min(axis=1), nan=-np.inf) >= S[:, a] + 0.5 * built)
                        # The holding it leads to is itself abnormal: a shelf refilled from
                        # empty to three months of a new patient's use is restocking.
                        & (np.nan_to_num(s_after.mean(axis=1), nan=-np.inf) >= self.BUILD_MIN_MONTHS * u)
                        & (r_after >= 0.5 * out[:, after].sum(axis=1)))
                # Hoard: orders far beyond any use the establishment ever had, kept on the
                # books. Honest ordering replaces what is used; ≥ 12 months of the largest
                # monthly use before, during or after it, and ≥ 4 typical months of receipts of
                # its peers, is stock no dispensing establishment buys to sell.
                u_all = out[:, max(a - 2, 0):last_full + 1].max(axis=1)
                hoard = (hoard_ok & (built >= self.HOARD_MONTHS * u_all)
                         & (built >= self.HOARD_PEER_MONTHS * peer_month)
                         & (np.nan_to_num(s_after.min(axis=1), nan=-np.inf) >= s_a + 0.5 * built))
                for g in np.flatnonzero(cond | hoard):
                    # The build-up rule when its presentations were ordered again; else a hoard.
                    is_hoard = not (cond[g] and _built_products_reordered(ctx, mo, int(g), a, m,
                                                                          last_full))
                    if is_hoard and not hoard[g]:
                        continue
                    # The build-up against the series' own month-to-month stock changes outside
                    # it (its ordering lumpiness), at a steady state of no net change.
                    idx = np.arange(nm - 1)
                    outside = (((idx + 1) <= a) | ((idx + 1) > m)) & ((idx + 1) >= first_change[g]) \
                        & ((idx + 1) <= last_full) & ~np.isnan(dS[g])
                    if outside.sum() < 3:
                        continue
                    # A hoard's spread is robust (MAD): a second hoard of the same series
                    # outside this one must not hide it by inflating the spread. An ordinary
                    # build-up keeps the classical spread of its lumpy ordering.
                    d_out, floor = dS[g, outside], self.SIGMA_FLOOR_MONTHS * mean_r[g]
                    sd = robust_center_scale(d_out, floor)[1] if is_hoard \
                        else max(float(np.std(d_out, ddof=1)), floor)
                    if sd <= 0:
                        continue
                    z = float(built[g]) / (sd * np.sqrt(m - a))
                    # Bonferroni over the build-up lengths looked at for this end month.
                    pv = min(1.0, self.BUILD_MONTHS_MAX * p_from_z(z))
                    if int(g) not in best or pv < best[int(g)]["p"]:
                        best[int(g)] = {
                            "g": int(g), "a": a, "m": m, "p": pv, "z": z,
                            "built": float(built[g]), "u": float(u_all[g] if is_hoard else u[g]),
                            "kept": float(s_after[g].min() - s_a[g]),
                            "stock_before": float(s_a[g]), "stock_after": float(s_after[g].mean()),
                            "cover_before": float(s_a[g] / ub[g]) if ub[g] > 0 else None,
                            "hoard": is_hoard, "max_use": float(u_all[g]),
                            "peer_month": float(peer_month[g]),
                            "cover_after": float(s_after[g].mean() / max(o_after[g], 1e-9)),
                            "follow_up": n_after, "received_after": float(r_after[g]),
                            "used_after": float(out[g, after].sum()),
                        }
        cands = list(best.values())
        n_tests = int(tested.sum())
        keep = bh_keep([c["p"] for c in cands], n_tests, self.Q)
        return [self._build_up_alert(ctx, mo, c, n_tests) for c, k in zip(cands, keep, strict=True) if k]

    def _build_up_alert(self, ctx: DetectionContext, mo: _Monthly, c: dict[str, Any],
                        n_tests: int) -> AlertDraft:
        f = ctx.frame
        g, a, m = c["g"], c["a"], c["m"]
        est = int(mo.est[g])
        ms = list(range(a + 1, m + 1))
        t0, _ = month_bounds(mo.m0 + ms[0])
        _, t1 = month_bounds(mo.m0 + ms[-1])
        sel = (mo.inv == g) & mo.inbound & np.isin(mo.mon, ms)
        rows = mo.rows[sel]
        mme_per_mg = float(np.median(mo.mme_per_mg[sel])) if sel.any() else 0.0
        sub = mo.subv.name(int(mo.sub[g]))
        name = f.estv.name(est) or ""
        hist = mo.R[g, max(mo.first[g], a - 11):a + 1]
        mean_r = float(hist.mean()) if len(hist) else 0.0
        peak_m = ms[int(np.argmax(mo.R[g, ms]))]
        peak = float(mo.R[g, peak_m])
        months_built = c["built"] / c["u"] if c["u"] > 0 else float("inf")
        if c.get("hoard"):
            # Months of use are the largest monthly use (None when it never used any).
            months_built = c["built"] / c["u"] if c["u"] > 0 else None
            use = (f"{fmt(months_built, 0)} meses de su mayor uso mensual" if months_built is not None
                   else "sin uso registrado")
            summary = (f"{name} recibió y guarda {fmt(c['built'], 2)} mg de {sub} pedidos entre "
                       f"{month_label(mo.m0 + ms[0])} y {month_label(mo.m0 + m)} ({use}; "
                       f"{fmt(c['built'] / c['peer_month'], 0)} veces el mes típico de compras de "
                       f"sus pares): las existencias se mantuvieron {c['follow_up']} meses sin una "
                       f"salida equivalente. Verificar las existencias físicas.")
        else:
            summary = (f"{name} acumuló {fmt(c['built'], 2)} mg de {sub} entre {month_label(mo.m0 + ms[0])} "
                       f"y {month_label(mo.m0 + m)} ({fmt(months_built, 1)} meses de su uso): sus existencias "
                       f"pasaron de {fmt(c['cover_before'], 1)} a {fmt(c['cover_after'], 1)} meses de uso, se "
                       f"mantuvieron {c['follow_up']} meses y siguió pidiendo. Verificar las existencias físicas.")
        criteria = ["stock_hoard"] if c.get("hoard") else ["stock_build_up"]
        minor, score = self._minor(c["built"], c["peer_month"], c["p"],
                                   max(c["kept"], 0.0) * mme_per_mg)
        if minor:
            summary += self.MINOR_NOTE
        return self.draft(
            name, t0, t1, strength_from_p(c["p"]), max(c["kept"], 0.0) * mme_per_mg, summary,
            {"metric": "counted stock in months of use", "substance": sub, "criteria": criteria,
             "peer_month_mg": c.get("peer_month"), "below_peer_month": minor,
             "observed": peak, "expected": mean_r, "ratio": peak / mean_r if mean_r > 0 else None,
             "built_mg": c["built"], "kept_mg": c["kept"], "months_of_use_built": months_built,
             "use_mg_per_month": c["u"], "stock_mg_before": c["stock_before"],
             "stock_mg_after": c["stock_after"], "cover_months_before": c["cover_before"],
             "cover_months_after": c["cover_after"], "follow_up_months": c["follow_up"],
             "received_after_mg": c["received_after"], "used_after_mg": c["used_after"],
             "p_value": c["p"], "net_inflow_z": c["z"], "tests": n_tests,
             "months": [month_label(mo.m0 + x) for x in ms], "provisional": False,
             **f.events(rows)},
            department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
            score=score,
        )

    MINOR_NOTE = (" Cantidad menor que un mes típico de compras de sus pares: para la próxima "
                  "inspección.")

    def _minor(self, mg: float, peer_mg: float, p: float, mme: float) -> tuple[bool, float | None]:
        """Magnitude: (True, a score below the medium band) when ``mg`` unexplained or built
        is under ``MATERIAL_PEER_MONTHS`` typical months of the peers' receipts."""
        if not 0 < mg < self.MATERIAL_PEER_MONTHS * peer_mg:
            return False, None
        return True, min(calibrate(strength_from_p(p), mme)[0], self.PROVISIONAL_MAX)

    def _episodes(self, ctx: DetectionContext, mo: _Monthly, est: int, items: list[dict]):
        items.sort(key=lambda x: x["m"])
        episodes: list[list[dict]] = [[items[0]]]
        for it in items[1:]:
            if it["m"] - episodes[-1][-1]["m"] <= 1:
                episodes[-1].append(it)
            else:
                episodes.append([it])
        f = ctx.frame
        kind = ctx.registry.est_kind[est]
        for ep in episodes:
            ms = sorted({it["m"] for it in ep})
            t0, _ = month_bounds(mo.m0 + ms[0])
            _, t1 = month_bounds(mo.m0 + ms[-1])
            gs = {it["g"] for it in ep}
            sel = np.isin(mo.inv, list(gs)) & mo.inbound & np.isin(mo.mon, ms)
            rows = mo.rows[sel]
            best = min(ep, key=lambda x: x["p"])
            excess_mg = max(max(it["excess"], 0.0) for it in ep)  # horizons overlap: not a sum
            mme_per_mg = float(np.median(mo.mme_per_mg[sel])) if sel.any() else 0.0
            # Peers: same kind of establishment, same substance and month.
            g = best["g"]
            if not hasattr(mo, "kinds"):
                mo.kinds = np.array([_kind(ctx, int(e)) for e in mo.est])
            peers = np.flatnonzero((mo.sub == mo.sub[g]) & (mo.est != est) & (mo.kinds == (kind or "")))
            peer_vals = mo.R[peers, best["m"]]
            peer_vals = peer_vals[peer_vals > 0]
            criteria = sorted({c for it in ep for c in ("size", "freq") if it[c]})
            sub = mo.subv.name(int(mo.sub[g]))
            name = f.estv.name(est)
            ratio = best["R"] / best["meanR"] if best["meanR"] > 0 else float("inf")
            summary = (f"{name} recibió {fmt(best['R'], 2)} mg de {sub} en "
                       f"{month_label(mo.m0 + best['m'])}, {fmt(ratio, 1)} veces su promedio de 12 "
                       f"meses, sin un aumento equivalente de su dispensación o uso.")
            # The follow-up that grades the finding is that of the episode's largest order: the
            # horizon of an earlier, smaller order holds it too, so its longer follow-up would
            # grade an excess that has not had time to be used (a pharmacy's November order,
            # then a far larger one in December, the last month of the data).
            follow_up = max(ep, key=lambda it: (it["R"], it["m"]))["complete_months"]
            score = None
            if follow_up < self.GRADED_HORIZON:
                summary += (" Provisional: solo se conoce un mes de uso posterior; se reevalúa "
                            "con los meses siguientes.")
                score = min(calibrate(strength_from_p(best["p"]), excess_mg * mme_per_mg)[0],
                            self.PROVISIONAL_MAX)
            # Magnitude: an unexplained quantity under one typical month of what peers (same
            # kind, substance) receive is for the next inspection visit, not an alert.
            peer_mg = float(mo.peer_month[g])
            minor, capped = self._minor(excess_mg, peer_mg, best["p"], excess_mg * mme_per_mg)
            if minor:
                summary += self.MINOR_NOTE
                score = capped if score is None else min(score, capped)
            yield self.draft(
                name, t0, t1, strength_from_p(best["p"]), excess_mg * mme_per_mg, summary,
                {"metric": "mg received per month", "substance": sub, "criteria": criteria,
                 "observed": best["R"], "expected": best["meanR"], "ratio": ratio,
                 "prior_6_month_max": best["max6"], "orders": best["N"],
                 "expected_orders": best["meanN"], "use_ratio": best["use_ratio"],
                 "p_value": best["p"], "net_inflow_z": best["z"], "tests": best["tests"],
                 "horizon_months": best["horizon_months"], "excess_mg": excess_mg,
                 "follow_up_months": follow_up,
                 "months": [month_label(mo.m0 + m) for m in ms],
                 "peer_percentile": percentile_of(best["R"], peer_vals) if len(peer_vals) else None,
                 "peer_range": [float(np.percentile(peer_vals, 25)), float(np.percentile(peer_vals, 75))]
                 if len(peer_vals) else None,
                 "peers": int(len(peer_vals)), "provisional": follow_up < self.GRADED_HORIZON,
                 "peer_month_mg": peer_mg, "below_peer_month": minor,
                 **f.events(rows)},
                department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
                score=score,
            )


class PurchasesOutgrowUse(Detector):
    """Receipts that outgrow reported use over the window, out of proportion to peers.

    Per establishment × substance, a mass balance in mg over one consistent period: R = received,
    U = every recorded outflow (dispensed, administered, shipped, exported, wasted or lost: stock
    leaves by these and by nothing else), ΔS = change of counted stock. For a product with two or
    more physical counts in the window the period runs from the first count to the last, so R, U
    and ΔS describe the same days (an honest book balances exactly: R = U + ΔS), and flows after
    the last count's day are added with no stock change known (an establishment that stops
    counting keeps answering for what it receives); a product without
    counts uses the window less its first 30 days of activity (when an opening stock is bought),
    with ΔS = 0. A count's stated time is uncertain within its day (stamped at the end of a shift
    or the next morning), so flows on the first and the last count's day are read charitably:
    outflows inside the period, inflows outside. Ratio R ÷ (U + ΔS), reported as "≥ 10" when
    U + ΔS is under a tenth of R (the counts fell by about as much as the outflows: what came in
    never showed on the shelf), against establishments of the same kind (robust z on log scale,
    σ ≥ 0.25, the spread that ordinary stock policies produce over a year): flagged when z ≥ 3.5,
    ratio ≥ 1.25 and the unexplained mg ≥ 2 months of average use and more than the largest
    single receipt of the period (one order can be on the shelf unopened: a drugstore that
    bought two boxes and sold one has not diverted the other); as every establishment ×
    substance is tested, the p of z must also survive Benjamini–Hochberg (q = 5 %) over all the
    series tested.
    """

    name = "purchases_outgrow_use"
    title = "Compras que superan el uso / Purchases outgrowing use"
    tolerates = (
        "counted stock changes (the balance R = U + dS over one consistent period), "
        "count-time uncertainty (flows on the first and last count's day are read in the "
        "establishment's favour), establishments that are simply big (peers' ratio), and a last order still on the "
        "shelf (the unexplained must exceed the largest single receipt)."
    )
    subject_kind = "establishment"
    topics = ("diversion", "suspicious_order")
    thresholds = {"robust z (log ratio, σ ≥ 0.25)": "≥ 3.5", "ratio": "≥ 1.25",
                  "unexplained": "≥ 2 months of average use and > the largest single receipt",
                  "peers": "≥ 8",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over all series"}
    evidence_fields = ("observed", "expected", "peer_range", "percentile", "z", "received_mg",
                       "used_mg", "stock_change_mg")

    Z_MIN, MIN_RATIO, MIN_PEERS, SIGMA_FLOOR, Q = 3.5, 1.25, 8, 0.25, 0.05
    RATIO_CAP = 10.0  # received ÷ (used + counted change) reported as "≥ 10" beyond

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, reg = ctx.frame, ctx.registry
        if f.n == 0:
            return []
        mo = _Monthly(ctx)
        if len(mo.keys) == 0:  # no receipt or use at all (one loss alone): nothing to compare
            return []
        flows = np.flatnonzero((f.est >= 0) & (f.product >= 0) & (f.t <= ctx.now_t)
                               & f.is_type(*INBOUND, *OUTFLOW, *DISPOSAL))
        sub_of_prod = mo.subv.encode(reg.prod_substance)
        gkey = f.est[flows].astype(np.int64) * (len(mo.subv) + 1) + sub_of_prod[f.product[flows]]
        g_of = np.searchsorted(mo.keys, gkey)
        valid = (g_of < len(mo.keys)) & (mo.keys[np.minimum(g_of, len(mo.keys) - 1)] == gkey)
        flows, g_of = flows[valid], g_of[valid]
        first_t = mo.first_t_old.copy()  # series that began before the frame
        np.minimum.at(first_t, g_of, f.t[flows])
        c0, c1, dS_units = self._count_periods(ctx)
        width = len(f.prodv) + 1
        pk = f.est[flows].astype(np.int64) * width + f.product[flows]
        t = f.t[flows]
        ck = np.array(sorted(c0), dtype=np.int64)
        pos = np.minimum(np.searchsorted(ck, pk), max(len(ck) - 1, 0))
        hit = (ck[pos] == pk) if len(ck) else np.zeros(len(pk), dtype=bool)
        v0 = np.array([c0[int(k)] for k in ck], dtype=np.int64)
        v1 = np.array([c1[int(k)] for k in ck], dtype=np.int64)
        p0 = np.where(hit, v0[pos] if len(ck) else -1, -1)
        p1 = np.where(hit, v1[pos] if len(ck) else -1, -1)
        counted = p1 > p0
        inbound = f.is_type(*INBOUND)[flows]
        # A count's stated time is uncertain within its day (stamped at the end of a shift or
        # the next morning): flows on the first or last count's Lima day may fall on either
        # side of it. The charitable reading is kept — outflows of those days inside the
        # period, inflows outside — so a count taken before the day's dispensing but stamped
        # after it never reads as units received and not used.
        d, d0, d1 = lima_day(t), lima_day(p0), lima_day(p1)
        edge = (d == d0) | (d == d1)
        counted_in = np.where(inbound, (t > p0) & (t <= p1) & ~edge,
                              ((t > p0) | (d == d0)) & ((t <= p1) | (d == d1)))
        # Flows after the last count's day still belong to the balance (their stock change is
        # unknown, read as none, as for a series never counted): an establishment that stops
        # counting is not out of reach for what it receives afterwards.
        tail = counted & (t > p1) & (d != d1) & (t >= ctx.start_t)
        in_period = np.where(counted, counted_in | tail,
                             (t >= ctx.start_t) & (t >= first_t[g_of] + 30 * DAY))
        mg = ctx.row_mg[flows]
        sel_in, sel_out = in_period & inbound, in_period & ~inbound
        R = np.bincount(g_of[sel_in], weights=mg[sel_in], minlength=len(mo.keys))
        U = np.bincount(g_of[sel_out], weights=mg[sel_out], minlength=len(mo.keys))
        dS = np.zeros(len(mo.keys))
        for k, units in dS_units.items():
            e, prod = divmod(k, width)
            key = e * (len(mo.subv) + 1) + sub_of_prod[prod]
            pos = int(np.searchsorted(mo.keys, key))
            if pos < len(mo.keys) and mo.keys[pos] == key:
                dS[pos] += units * reg.prod_mg[prod]
        # Months the balance covers (for "months of average use").
        span = np.zeros(len(mo.keys))
        np.maximum.at(span, g_of[in_period], t[in_period])
        start = np.full(len(mo.keys), np.iinfo(np.int64).max)
        np.minimum.at(start, g_of[in_period], np.where(counted, p0, t)[in_period])
        months = np.where(span > 0, (span - np.minimum(start, span)) / (30.4 * DAY), 0.0)
        self._rows_in = (flows, g_of, in_period, inbound)
        # The largest single receipt of each series: without a count saying otherwise, the last
        # order can still be on the shelf, unopened.
        biggest = np.zeros(len(mo.keys))
        np.maximum.at(biggest, g_of[sel_in], mg[sel_in])
        # Where use and the counted change account for almost none of the receipts (the counts
        # fell by as much as the outflows: what came in never reached the shelf), the ratio
        # has no finite value to report: it is capped, and so is its z.
        denom = np.maximum(U + dS, R / self.RATIO_CAP)
        ratio = np.where((R > 0) & (U > 0), R / np.maximum(denom, 1e-9), np.nan)
        lr = np.log(np.where(ratio > 0, ratio, np.nan))
        kinds = np.array([_kind(ctx, int(e)) for e in mo.est])
        cands, n_tests = [], 0
        for kind in np.unique(kinds):
            for s in np.unique(mo.sub):
                idx = np.flatnonzero((kinds == kind) & (mo.sub == s) & ~np.isnan(lr) & (months >= 3))
                if len(idx) < self.MIN_PEERS + 1:
                    continue
                n_tests += len(idx)
                med, sigma = robust_center_scale(lr[idx], self.SIGMA_FLOOR)
                for g in idx[(lr[idx] - med) / sigma >= self.Z_MIN]:
                    gap = R[g] - U[g] - dS[g]
                    monthly_use = U[g] / max(months[g], 1.0)
                    if ratio[g] < self.MIN_RATIO or gap < 2 * monthly_use or gap <= biggest[g]:
                        continue
                    cands.append((p_from_z(float((lr[g] - med) / sigma)), int(g), idx, med, sigma, gap))
        keep = bh_keep([c[0] for c in cands], n_tests, self.Q)
        return [self._alert(ctx, mo, g, idx, ratio, lr, med, sigma, R, U, dS, gap)
                for (_, g, idx, med, sigma, gap), k in zip(cands, keep, strict=True) if k]

    def _count_periods(self, ctx: DetectionContext) -> tuple[dict, dict, dict]:
        """Return first and last count time in the window and counted change (units) per
        establishment × product with two or more counts."""
        f = ctx.frame
        counts = np.flatnonzero(f.is_type("count") & (f.t >= ctx.start_t) & (f.t <= ctx.now_t)
                                & (f.est >= 0) & (f.product >= 0))
        c0: dict[int, int] = {}
        c1: dict[int, int] = {}
        dS: dict[int, float] = {}
        if len(counts) == 0:
            return c0, c1, dS
        pk = f.est[counts].astype(np.int64) * (len(f.prodv) + 1) + f.product[counts]
        for k, sel in groups(pk, counts):
            if len(sel) < 2:
                continue
            sel = sel[np.argsort(f.t[sel], kind="stable")]
            if f.t[sel[-1]] <= f.t[sel[0]]:
                continue
            c0[k], c1[k] = int(f.t[sel[0]]), int(f.t[sel[-1]])
            dS[k] = float(f.qty[sel[-1]] - f.qty[sel[0]])
        return c0, c1, dS

    def _alert(self, ctx, mo, g, idx, ratio, lr, med, sigma, R, U, dS, gap) -> AlertDraft:
        f = ctx.frame
        est = int(mo.est[g])
        name = f.estv.name(est)
        sub = mo.subv.name(int(mo.sub[g]))
        z = float((lr[g] - med) / sigma)
        peers = ratio[idx[idx != g]]
        flows, g_of, in_period, inbound = self._rows_in
        rows = flows[(g_of == g) & in_period & inbound]
        mg = ctx.row_mg[rows]
        mme_per_mg = float(np.median(ctx.row_mme[rows][mg > 0] / mg[mg > 0])) if (mg > 0).any() else 0.0
        t0 = max(int(f.t[rows].min()) if len(rows) else ctx.start_t, ctx.start_t)
        capped = bool(ratio[g] >= self.RATIO_CAP)
        shown = f"≥ {self.RATIO_CAP:.0f}" if capped else f"{ratio[g]:.2f}"
        summary = (f"{name} recibió {fmt(R[g], 2)} mg de {sub} pero solo registró {fmt(U[g], 2)} mg de "
                   f"uso o salidas (razón {shown}, mediana de pares {np.exp(med):.2f}).")
        if capped and dS[g] < 0:
            summary += (f" Los conteos bajaron {fmt(-dS[g], 2)} mg en el mismo periodo: lo recibido "
                        "no aparece en el stock contado.")
        return self.draft(
            name, t0, ctx.now_t, strength_from_p(p_from_z(z)), gap * mme_per_mg, summary,
            {"metric": "received ÷ (used + counted stock change)", "substance": sub,
             "observed": float(ratio[g]), "observed_capped": capped, "expected": float(np.exp(med)),
             "peer_range": [float(np.percentile(peers, 25)), float(np.percentile(peers, 75))],
             "percentile": percentile_of(float(ratio[g]), peers), "z": z,
             "p_value": p_from_z(z), "peers": int(len(peers)),
             "peer_group": ctx.registry.est_kind[est], "received_mg": float(R[g]),
             "used_mg": float(U[g]), "stock_change_mg": float(dS[g]), "unexplained_mg": float(gap),
             **f.events(rows)},
            department=ctx.est_department(est), ubigeo=ctx.registry.est_ubigeo[est],
        )


def _kind(ctx: DetectionContext, est: int) -> str:
    """Return the registry kind of an establishment code ('' when unknown or seen only in
    the history aggregates, whose codes lie past the registry)."""
    kinds = ctx.registry.est_kind
    return (kinds[est] or "") if 0 <= est < len(kinds) else ""
