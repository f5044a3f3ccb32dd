"""Regional surge: a department's monthly dispensing against its own history and the nation."""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy import stats
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.frame import Vocab
from centinela.detect.scoring import MAD_TO_SIGMA, bh_keep, calibrate, strength_from_p
from centinela.detect.util import month_bounds, month_index, month_label
from centinela.reference.ubigeo import department_population


class RegionalSurge(Detector):
    """Monthly dispensations of fentanyl-family products in a department above their expectation,
    under an over-dispersed count model, with the establishments and prescribers driving the rise.

    Community supply is what a regional surge is about: in-hospital administration rises for
    reasons a region cannot see (a new ICU) and its diversion is judged by the inventory and
    waste detectors.

    Only complete calendar months are compared (never a partial current month, nor the partial
    first month of the data). Expected count of a department-month = the mean of its prior 3–6
    complete months, scaled by the change of the rest of the country over the same months (a
    national season is not a regional surge). Counts are negative binomial (quasi-Poisson
    extension): Var = μ + α μ², α the median of the department-months' moment estimates (≥ 0.01,
    robust to the surges themselves), plus
    the uncertainty of the baseline mean itself, widened by the empirical null (the robust spread
    of all department-months' z, when above 1: slow drifts of patient panels); so a department
    with 20 events a month and one with 5 000 are each held to their own noise. Dispensations
    are clustered by patient (a chronic patient refills every month, so a few patients joining
    a panel raise every month of a run): each test's variance is multiplied by its design effect
    Σk²/Σk (k = dispensations of each patient in the department and months tested), so the
    evidence is counted in independent patients. A department-month, or a run of consecutive
    months each ≥ 1.15× expected (tested as one sum against the months before the run, with the
    variance of that shared baseline), is flagged when its p survives Benjamini–Hochberg
    (q = 5 %) over every department-month and run tested, the ratio is ≥ 1.25 (single month) or
    ≥ 1.15 (run), and the excess is ≥ 10 dispensations per month. The evidence names the
    establishments and prescribers whose rise over their own baseline makes up the excess
    (equal rises in order of id). A rise of which one prescriber or one establishment makes up
    ≥ 3/4 of the excess is theirs, not the region's: a low lead naming them (their own
    detectors judge them).
    Population from INEI (shipped data); rates per 100 000 inhabitants in the evidence.
    """

    name = "regional_surge"
    title = "Aumento regional / Regional surge"
    tolerates = (
        "partial months (only complete ones are compared), national seasons (rest-of-country "
        "scaling), the noise of small departments (negative binomial with an empirical null),"
        " a few chronic patients joining a panel (variance times the patient design effect),"
        " in-hospital administration (a new ICU), and chance across departments and months "
        "(Benjamini-Hochberg). A rise that is one prescriber's or one establishment's "
        "(>= 3/4 of the excess) is a low lead naming them."
    )
    subject_kind = "region"
    topics = ("regional_surge",)
    thresholds = {"count model": "negative binomial, α by moments (≥ 0.01)",
                  "single month": "ratio ≥ 1.25", "run of months": "each ≥ 1.15×",
                  "excess dispensations": "≥ 10 per month", "history": "≥ 3 complete months",
                  "clustering by patient": "variance × design effect Σk²/Σk",
                  "multiple testing": "Benjamini–Hochberg q = 5 %",
                  "months compared": "complete calendar months only"}
    evidence_fields = ("observed", "expected", "ratio", "p_value", "dispersion", "drivers",
                       "rate_per_100k", "national_rate_per_100k", "months")

    RATIO_MIN, RUN_RATIO, MIN_EXCESS, ALPHA_FLOOR, Q = 1.25, 1.15, 10.0, 0.01, 0.05
    # One prescriber or establishment making up this share of the excess: a low lead.
    SINGLE_DRIVER_SHARE, SINGLE_DRIVER_MAX = 0.75, 35.0

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        # Community supply: dispensations of fentanyl-family products. In-hospital administration
        # rises for reasons a region cannot see (a new ICU, a surgical campaign) and its diversion
        # is judged by the inventory and waste detectors.
        fam = ctx.registry.prod_family
        rows = np.flatnonzero(f.is_type("dispense") & (f.est >= 0) & (f.product >= 0))
        rows = rows[fam[f.product[rows]]]
        deptv = Vocab()
        dept_of_est = deptv.encode(ctx.registry.est_dept)
        d = dept_of_est[f.est[rows]]
        rows, d = rows[d >= 0], d[d >= 0]
        # Months before the frame: department × month cells from the history aggregates.
        old = _Older(ctx, dept_of_est)
        if len(rows) == 0 and len(old.d) == 0:
            return []
        mon = month_index(f.t[rows])
        # Complete months only: drop a first month the data start inside and the current month.
        first = int(min(mon.min(initial=np.iinfo(np.int64).max), old.month.min(initial=np.iinfo(np.int64).max)))
        t_min = min(int(f.t[rows].min(initial=np.iinfo(np.int64).max)), old.t_min)
        if month_bounds(first)[0] < t_min - DAY:
            first += 1
        last = int(month_index(np.array([ctx.now_t]))[0])
        if month_bounds(last)[1] > ctx.now_t + DAY:
            last -= 1
        keep = (mon >= first) & (mon <= last)
        rows, d, mon = rows[keep], d[keep], mon[keep]
        old.keep(first, last)
        nm, nd = last - first + 1, len(deptv)
        if nm < 4 or len(rows) + len(old.d) == 0:
            return []
        m0 = first
        cell = d.astype(np.int64) * nm + (mon - m0)
        mme = np.bincount(cell, weights=ctx.row_mme[rows], minlength=nd * nm).reshape(nd, nm)
        obs = np.bincount(cell, minlength=nd * nm).reshape(nd, nm).astype(float)
        if len(old.d):
            ocell = old.d * nm + (old.month - m0)
            mme += np.bincount(ocell, weights=old.mme, minlength=nd * nm).reshape(nd, nm)
            obs += np.bincount(ocell, weights=old.count, minlength=nd * nm).reshape(nd, nm)
        total = obs.sum(axis=0)
        exp = np.full((nd, nm), np.nan)
        nbase = np.zeros(nm)
        for m in range(3, nm):
            lo = max(0, m - 6)
            base = obs[:, lo:m].mean(axis=1)
            rest_now = total[m] - obs[:, m]
            rest_prior = (total[lo:m][None, :] - obs[:, lo:m]).mean(axis=1)
            factor = np.where(rest_prior > 0, rest_now / np.maximum(rest_prior, 1e-9), 1.0)
            exp[:, m] = base * factor
            nbase[m] = m - lo
        ok = ~np.isnan(exp) & (exp > 0)
        if ok.sum() < 5:
            return []
        e_ok, o_ok = exp[ok], obs[ok]
        # Over-dispersion: the median of the cells' moment estimates (robust to the surges
        # themselves), from cells with enough events to carry information.
        big = e_ok >= 5
        est_a = ((o_ok - e_ok) ** 2 - e_ok) / np.maximum(e_ok, 1e-9) ** 2
        alpha = max(float(np.median(est_a[big])) if big.any() else self.ALPHA_FLOOR,
                    self.ALPHA_FLOOR)
        var = np.where(ok, (exp + alpha * exp ** 2) * (1.0 + 1.0 / np.maximum(nbase, 1)), 1.0)
        # Empirical null (Efron): if the department-months spread more than the model says
        # (slow drifts of patient panels), the robust spread of their z widens every test.
        zall = (obs[ok] - exp[ok]) / np.sqrt(var[ok])
        scale2 = max(1.0, (MAD_TO_SIGMA * float(np.median(np.abs(zall - np.median(zall))))) ** 2)
        var = var * scale2
        pm = np.ones((nd, nm))
        for di, m in zip(*np.nonzero(ok), strict=True):
            pm[di, m] = _nb_sf(obs[di, m], exp[di, m], var[di, m])
        ratio = np.where(ok, obs / np.where(ok, exp, 1.0), 0.0)
        start_m = int(month_index(np.array([ctx.start_t]))[0]) - m0
        tests: list[tuple[float, int, list[int]]] = []
        n_tests = int(ok.sum())
        for di in range(nd):
            run: list[int] = []
            for m in [*range(nm), nm]:
                up = m < nm and ok[di, m] and ratio[di, m] >= self.RUN_RATIO
                if up:
                    run.append(m)
                    if ratio[di, m] >= self.RATIO_MIN and m >= start_m:
                        tests.append((float(pm[di, m]), di, [m],
                                      (float(obs[di, m]), float(exp[di, m]), float(var[di, m]))))
                    continue
                if len(run) >= 2 and run[-1] >= start_m and run[0] >= 3:
                    # The run against the months before it (one fixed baseline, so the months
                    # of the run never raise their own expectation), its sum tested once.
                    e_run, o_run = self._run_expectation(obs, total, di, run)
                    if e_run is not None:
                        exp[di, run] = e_run
                        n_b = min(6, run[0])
                        v = scale2 * float((e_run + alpha * e_run ** 2).sum()
                                           + e_run.sum() ** 2 * (1.0 / max(e_run.mean(), 1e-9)
                                                                 + alpha) / n_b)
                        tests.append((_nb_sf(o_run, float(e_run.sum()), v), di, list(run),
                                      (o_run, float(e_run.sum()), v)))
                        n_tests += 1
                run = []
        # Dispensations are clustered by patient: a chronic patient refills every month, so a
        # few patients joining a panel add a dispensation to every month of a run. Each test's
        # variance is multiplied by its design effect Σk²/Σk (Kish; k = dispensations of each
        # patient in the department and months tested), so evidence counts independent patients.
        pat, rel = f.patient[rows], mon - m0

        def deff(di: int, ep: list[int]) -> float:
            frame_pat = pat[(d == di) & np.isin(rel, ep)]
            if old.raw_month is None or m0 + ep[0] >= old.raw_month:
                return _design_effect(frame_pat)
            # Months before the frame: the department's patients there, from the database.
            return old.design_effect(deptv.name(di), [m0 + m for m in ep], frame_pat)

        tests = [(_nb_sf(o, e, v * deff(di, ep)) if p < 0.05 else p, di, ep)
                 for p, di, ep, (o, e, v) in tests]
        passed = bh_keep([t[0] for t in tests], n_tests, self.Q)
        # One episode per department and overlapping months: the strongest test.
        best: dict[int, list[tuple[float, list[int]]]] = {}
        for (p, di, ep), ok_p in zip(tests, passed, strict=True):
            if not ok_p or float(obs[di, ep].sum() - exp[di, ep].sum()) < self.MIN_EXCESS * len(ep):
                continue
            eps = best.setdefault(di, [])
            clash = [x for x in eps if set(x[1]) & set(ep)]
            if clash and min(x[0] for x in clash) <= p:
                continue
            best[di] = [x for x in eps if not (set(x[1]) & set(ep))] + [(p, ep)]
        pop = department_population()
        out = []
        for di, eps in best.items():
            code = deptv.name(di)
            for p, ep in eps:
                a = self._alert(ctx, code, ep, m0, obs[di], exp[di], p, alpha, mme[di],
                                total, pop.get(code, 0), rows, d == di, mon, old)
                if a is not None:
                    out.append(a)
        return out

    @staticmethod
    def _run_expectation(obs, total, di, run):
        """Return (expected counts of each month of ``run`` from the 3–6 months before it,
        scaled by the rest of the country; observed sum), or (None, 0) without history."""
        lo = max(0, run[0] - 6)
        if run[0] - lo < 3:
            return None, 0.0
        base = obs[di, lo:run[0]].mean()
        rest_prior = (total[lo:run[0]] - obs[di, lo:run[0]]).mean()
        rest = total[run] - obs[di, run]
        factor = rest / rest_prior if rest_prior > 0 else np.ones(len(run))
        return base * factor, float(obs[di, run].sum())

    def _alert(self, ctx, code, ep, m0, obs, exp, p, alpha, mme, total, pop, rows, mask,
               mon, old: _Older) -> AlertDraft:
        f = ctx.frame
        t0, _ = month_bounds(m0 + ep[0])
        _, t1 = month_bounds(m0 + ep[-1])
        o, e = float(obs[ep].sum()), float(exp[ep].sum())
        months = len(ep)
        per100k = 1e5 * o / pop / months if pop else None
        national_pop = sum(department_population().values()) - pop
        nat = float(total[ep].sum()) - o
        nat_rate = 1e5 * nat / national_pop / months if national_pop else None
        in_ep = mask & (mon - m0 >= ep[0]) & (mon - m0 <= ep[-1])
        lo = max(0, ep[0] - 6)
        in_base = mask & (mon - m0 >= lo) & (mon - m0 < ep[0])
        n_base = max(ep[0] - lo, 1)
        # Months before the frame (a baseline, or a run that began there) come from the
        # history aggregates: counts per establishment and per prescriber of the department.
        older = old.drivers(code, m0 + lo, m0 + ep[0], m0 + ep[-1])
        drivers = {
            "establishments": _drivers(f.est, f.estv, rows, in_ep, in_base, months, n_base,
                                       extra=older["establishment"]),
            "prescribers": _drivers(np.where(f.prescriber >= 0, f.prescriber, -1), f.profv,
                                    rows, in_ep, in_base, months, n_base,
                                    extra=older["prescriber"]),
        }
        sel = rows[in_ep]
        from centinela.reference.ubigeo import departments

        dname = departments().get(code, code)
        excess_share = max(o - e, 0.0) / o if o else 0.0
        m_obs = float(mme[ep].sum())
        names = ", ".join(x["id"] for x in drivers["establishments"][:3])
        docs = ", ".join(x["id"] for x in drivers["prescribers"][:3])
        summary = (f"El departamento de {dname} registró {fmt(o)} dispensaciones de fentanilo y "
                   f"análogos entre {month_label(m0 + ep[0])} y {month_label(m0 + ep[-1])}, "
                   f"{o / e:.2f} veces lo esperado por su historia y la tendencia nacional"
                   + (f"; impulsado sobre todo por {names}" if names else "")
                   + (f" (prescriptores: {docs})" if docs else "") + ".")
        # A rise that is one prescriber's or one establishment's (≥ 3/4 of the excess) is
        # theirs, not the region's: a low lead naming them (their own detectors judge them).
        single = None
        excess = max(o - e, 0.0)
        for kind, label in (("prescribers", "prescriber"), ("establishments", "establishment")):
            top = drivers[kind][0] if drivers[kind] else None
            if top and excess > 0 and top["excess"] >= self.SINGLE_DRIVER_SHARE * excess:
                single = {"kind": label, "id": top["id"], "share": round(top["excess"] / excess, 3)}
                break
        score = None
        if single:
            who = "prescriptor" if single["kind"] == "prescriber" else "establecimiento"
            summary += (f" El aumento es casi todo de un solo {who} "
                        f"({single['id']}, {100 * single['share']:.0f} % del exceso): una pista, no un aumento regional.")
            score = min(calibrate(strength_from_p(p), m_obs * excess_share)[0], self.SINGLE_DRIVER_MAX)
        return self.draft(
            code, t0, t1, strength_from_p(p), m_obs * excess_share, summary,
            {"metric": "fentanyl-family dispensations per complete month", "observed": o,
             "expected": round(e, 2), "ratio": o / e if e else None, "p_value": p,
             "dispersion": round(alpha, 4), "mme": m_obs,
             "months": [month_label(m0 + m) for m in ep], "drivers": drivers,
             "establishments": [x["id"] for x in drivers["establishments"][:5]],
             "rate_per_100k": per100k, "national_rate_per_100k": nat_rate,
             "population": pop, "single_driver": single, **_events(f, sel, older)},
            department=code, score=score,
        )


def _design_effect(patients: np.ndarray) -> float:
    """Return Σk²/Σk over the patients' dispensation counts k (rows without a patient count as
    their own cluster of one): 1 when every dispensation is a different patient."""
    known = patients[patients >= 0]
    k = np.bincount(known).astype(float) if len(known) else np.zeros(0)
    n = float(k.sum()) + float((patients < 0).sum())
    return (float((k ** 2).sum()) + float((patients < 0).sum())) / n if n else 1.0


def _nb_sf(k: float, mu: float, var: float) -> float:
    """Return P(X ≥ k) for a negative binomial with mean ``mu`` and variance ``var`` > mu."""
    if var <= mu * (1 + 1e-9):
        return float(stats.poisson.sf(k - 1, mu))
    n = mu * mu / (var - mu)
    return float(stats.nbinom.sf(k - 1, n, mu / var))


def _drivers(codes: np.ndarray, vocab, rows: np.ndarray, in_ep: np.ndarray, in_base: np.ndarray,
             months: int, n_base: int, top: int = 5, extra=None) -> list[dict]:
    """Return the subjects whose monthly count rose most over their own baseline months.

    ``extra`` = (codes, in episode, counts, names past the vocabulary) adds the months before
    the frame (history aggregates; codes past ``vocab`` are names only the history knows)."""
    c = codes[rows]
    names = list(vocab.names)
    if extra is not None and len(extra[0]):
        names += extra[3]
    n = len(names) + 1
    ep = np.bincount(np.maximum(c[in_ep & (c >= 0)], 0), minlength=n)[: n - 1].astype(float)
    base = np.bincount(np.maximum(c[in_base & (c >= 0)], 0), minlength=n)[: n - 1].astype(float)
    if extra is not None and len(extra[0]):
        xc, x_ep, xn = extra[0], extra[1], extra[2]
        ep += np.bincount(xc[x_ep], weights=xn[x_ep], minlength=n)[: n - 1]
        base += np.bincount(xc[~x_ep], weights=xn[~x_ep], minlength=n)[: n - 1]
    ep, base = ep / months, base / n_base
    excess = (ep - base) * months
    # Ties by id: the order must not depend on the order codes were assigned in (which
    # movements the frame holds).
    order = sorted(np.flatnonzero(excess > 0).tolist(), key=lambda i: (-excess[i], names[i]))
    return [{"id": names[i], "observed": round(float(ep[i] * months), 1),
             "expected": round(float(base[i] * months), 1), "excess": round(float(excess[i]), 1)}
            for i in order[:top]]


def _events(f, sel: np.ndarray, older: dict, cap: int = 20) -> dict:
    """The episode's events, earliest first (those of its months before the frame first)."""
    ev = f.events(sel, cap)
    if older["episode_rows"]:
        ev["event_ids"] = (older["episode_events"] + ev["event_ids"])[:cap]
        ev["event_count"] += older["episode_rows"]
    return ev


class _Older:
    """Fentanyl-family dispensations before the frame, per department × month (aggregates)."""

    def __init__(self, ctx: DetectionContext, dept_of_est: np.ndarray) -> None:
        self.ctx = ctx
        hist = ctx.history
        self.raw_month = hist.raw_month if hist is not None else None
        self.d = self.month = np.zeros(0, np.int64)
        self.count = self.mme = np.zeros(0)
        self.t_min = np.iinfo(np.int64).max
        self.est = np.zeros(0, np.int64)
        if hist is None:
            return
        f, reg = ctx.frame, ctx.registry
        g = hist.grouped(("establishment", "product"), ("dispense",), monthly=True)
        est, prod = g.codes("establishment", f.estv), g.codes("product", f.prodv)
        known = (est >= 0) & (est < len(dept_of_est)) & (prod >= 0) & (prod < len(reg.prod_family))
        ok = known.copy()
        ok[known] = reg.prod_family[prod[known]] & (dept_of_est[est[known]] >= 0)
        if not ok.any():
            return
        assert g.month is not None
        self.est, self.month = est[ok], g.month[ok]
        self.d = dept_of_est[self.est].astype(np.int64)
        self.count = g.rows[ok].astype(float)
        self.mme = g.qty[ok] * reg.prod_mme[prod[ok]]
        self.t_min = int(g.first_t[ok].min())

    def keep(self, first: int, last: int) -> None:
        """Keep the complete months compared (``first`` … ``last``)."""
        k = (self.month >= first) & (self.month <= last)
        self.d, self.month, self.count, self.mme, self.est = (
            self.d[k], self.month[k], self.count[k], self.mme[k], self.est[k])

    def _where(self, code: str):
        from sqlalchemy import select

        from centinela.ledger.records import Movement
        from centinela.registry.models import Establishment

        f, reg = self.ctx.frame, self.ctx.registry
        family = [f.prodv.names[i] for i in np.flatnonzero(reg.prod_family)]
        return (Movement.establishment_id.in_(
            select(Establishment.establishment_id).where(Establishment.department == code))
            & Movement.product_code.in_(family))

    def design_effect(self, code: str, months: list[int], frame_pat: np.ndarray) -> float:
        """Σk²/Σk over the department's patients in ``months`` (Lima month indexes), the
        frame's rows ``frame_pat`` (patient codes) and the months before the frame."""
        hist = self.ctx.history
        assert hist is not None
        g = hist.grouped(("patient",), ("dispense",), monthly=True, where=self._where(code),
                         first_month=min(months))
        assert g.month is not None
        inside = np.isin(g.month, months)
        counts: dict[str, float] = {}
        names = self.ctx.frame.patv.names
        known = frame_pat[frame_pat >= 0]
        for c, k in zip(*np.unique(known, return_counts=True), strict=True):
            counts[names[int(c)]] = float(k)
        unknown = float((frame_pat < 0).sum())
        for name, k, i in zip(g.keys["patient"], g.rows, inside, strict=True):
            if not i:
                continue
            if name is None:
                unknown += float(k)
            else:
                counts[name] = counts.get(name, 0.0) + float(k)
        k_arr = np.array(list(counts.values()))
        n = float(k_arr.sum()) + unknown
        return (float((k_arr ** 2).sum()) + unknown) / n if n else 1.0

    def drivers(self, code: str, lo: int, ep0: int, ep1: int) -> dict:
        """Counts before the frame for an episode ``ep0``…``ep1`` and its baseline from ``lo``
        (Lima month indexes): per establishment and per prescriber, and the episode's rows."""
        none = (np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0), [])
        out: dict = {"establishment": none, "prescriber": none, "episode_rows": 0}
        if self.raw_month is None or lo >= self.raw_month:
            return out
        f = self.ctx.frame
        mine = (self.month >= lo) & (self.month <= ep1) & np.array(
            [self.ctx.registry.est_dept[int(e)] == code for e in self.est], dtype=bool)
        in_ep = self.month[mine] >= ep0
        out["establishment"] = (self.est[mine], in_ep, self.count[mine], [])
        out["episode_rows"] = int(self.count[mine][in_ep].sum())
        hist = self.ctx.history
        assert hist is not None
        if out["episode_rows"]:
            from sqlalchemy import select

            from centinela.ledger.records import Movement

            y, m = divmod(ep0, 12)
            start = dt.datetime(1970 + y, m + 1, 1) + dt.timedelta(hours=5)
            if hist.since is not None:
                start = max(start, hist.since)
            stmt = (select(Movement.event_id)
                    .where(Movement.occurred_at >= start, Movement.occurred_at < hist.until,
                           Movement.event_type == "dispense", self._where(code))
                    .order_by(Movement.occurred_at, Movement.id).limit(20))
            out["episode_events"] = list(self.ctx.session.scalars(stmt))
        g = hist.grouped(("prescriber",), ("dispense",), monthly=True, where=self._where(code),
                         first_month=lo)
        assert g.month is not None
        pc = g.codes("prescriber", f.profv)
        sel = (pc >= 0) & (g.month <= ep1)
        out["prescriber"] = (pc[sel], g.month[sel] >= ep0, g.rows[sel].astype(float),
                             g.extra_names("prescriber", f.profv))
        return out
