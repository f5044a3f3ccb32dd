"""Regional surge: per-capita dispensing by department against its own history and the nation."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.frame import Vocab
from centinela.detect.scoring import MAD_TO_SIGMA, p_from_z, strength_from_p
from centinela.detect.util import month_bounds, month_index, month_label
from centinela.reference.ubigeo import department_population


class RegionalSurge(Detector):
    """Monthly dispensations and administrations in a department above their expectation.

    Expected = the department's median of its prior 6 months (≥ 3), scaled by the change of the
    rest of the country over the same months (so a national season is not a regional surge).
    z = log(observed ÷ expected) ÷ √(σ² + 1/observed), σ the robust extra-Poisson spread of all
    department-months (≥ 0.05).
    Flagged when z ≥ 3.5 and observed ≥ 1.25× expected, or when a one-sided CUSUM of z
    (k = 1, h = 5) crosses with observed ≥ 1.15× expected (a sustained smaller rise). Population
    from INEI (shipped data); rates per 100 000 inhabitants in the evidence.
    """

    name = "regional_surge"
    title = "Aumento regional / Regional surge"
    subject_kind = "region"
    topics = ("regional_surge",)
    thresholds = {"z (single month)": "≥ 3.5 and ratio ≥ 1.25",
                  "CUSUM (k = 1, h = 5)": "ratio ≥ 1.15", "history": "≥ 3 months"}
    evidence_fields = ("observed", "expected", "ratio", "z", "rate_per_100k",
                       "national_rate_per_100k", "months")

    Z_MIN, RATIO_MIN, CUSUM_K, CUSUM_H, CUSUM_RATIO = 3.5, 1.25, 1.0, 5.0, 1.15

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows = np.flatnonzero(f.is_type("dispense", "administer") & (f.est >= 0) & (f.product >= 0))
        if len(rows) == 0:
            return []
        deptv = Vocab()
        dept_of_est = deptv.encode(ctx.registry.est_dept)
        d = dept_of_est[f.est[rows]]
        rows, d = rows[d >= 0], d[d >= 0]
        if len(rows) == 0:
            return []
        mon = month_index(f.t[rows])
        m0 = int(mon.min())
        last = int(month_index(np.array([ctx.now_t]))[0])
        nm, nd = last - m0 + 1, len(deptv)
        cell = d.astype(np.int64) * nm + (mon - m0)
        # Counting dispensations and administrations (near-Poisson) rather than MME, whose big
        # patch and bulk quantities make monthly totals too noisy to judge a department by.
        mme = np.bincount(cell, weights=ctx.row_mme[rows], minlength=nd * nm).reshape(nd, nm)
        cnt = np.bincount(cell, minlength=nd * nm).reshape(nd, nm).astype(float)
        obs = cnt
        expo = self._exposure(int(f.t[rows].min()), ctx.now_t, m0, nm)
        rate = obs / expo  # full-month equivalents
        total = rate.sum(axis=0)
        exp = np.full((nd, nm), np.nan)
        for m in range(3, nm):
            lo = max(0, m - 6)
            base = np.median(rate[:, lo:m], axis=1)
            rest_now = total[m] - rate[:, m]
            rest_prior = np.median(total[lo:m][None, :] - rate[:, lo:m], axis=1)
            factor = np.where(rest_prior > 0, rest_now / np.maximum(rest_prior, 1e-9), 1.0)
            exp[:, m] = base * factor * expo[m]
        ok = ~np.isnan(exp) & (exp > 0) & (obs > 0)
        r = np.full((nd, nm), np.nan)
        r[ok] = np.log(obs[ok] / exp[ok])
        if ok.sum() < 5:
            return []
        med = float(np.median(r[ok]))
        spread = MAD_TO_SIGMA * float(np.median(np.abs(r[ok] - med)))
        noise = float(np.median(1.0 / np.maximum(cnt[ok], 1.0)))
        sigma2 = max(spread ** 2 - noise, 0.05 ** 2)
        z = np.where(ok, r / np.sqrt(sigma2 + 1.0 / np.maximum(cnt, 1.0)), 0.0)
        ratio = np.where(ok, obs / np.where(exp > 0, exp, 1.0), 0.0)
        start_m = int(month_index(np.array([ctx.start_t]))[0]) - m0
        pop = department_population()
        out = []
        for di in range(nd):
            code = deptv.name(di)
            flagged, s = [], 0.0
            for m in range(nm):
                s = max(0.0, s + z[di, m] - self.CUSUM_K) if ok[di, m] else 0.0
                single = z[di, m] >= self.Z_MIN and ratio[di, m] >= self.RATIO_MIN
                cusum = s >= self.CUSUM_H and ratio[di, m] >= self.CUSUM_RATIO
                if (single or cusum) and m >= start_m:
                    flagged.append(m)
            for ep in _runs(flagged):
                out.append(self._alert(ctx, code, ep, m0, obs[di], exp[di], z[di], mme[di],
                                       total, expo, pop.get(code, 0), rows, d == di))
        return out

    @staticmethod
    def _exposure(t_first: int, t_now: int, m0: int, nm: int) -> np.ndarray:
        """Return the share of each month covered by the data (partial first and last months)."""
        expo = np.ones(nm)
        for m in (0, nm - 1):
            a, b = month_bounds(m0 + m)
            lo, hi = max(a, t_first), min(b, t_now)
            expo[m] = max((hi - lo) / max(b - a, 1), 1.0 / 31)
        return expo

    def _alert(self, ctx, code, ep, m0, obs, exp, z, mme, total, expo, pop, rows, mask) -> AlertDraft:
        f = ctx.frame
        t0, _ = month_bounds(m0 + ep[0])
        _, t1 = month_bounds(m0 + ep[-1])
        t1 = min(t1, ctx.now_t)
        o, e = float(obs[ep].sum()), float(exp[ep].sum())
        zc = float(np.sum(z[ep]) / np.sqrt(len(ep)))
        months = len(ep)
        per100k = 1e5 * o / pop / months if pop else None
        national_pop = sum(department_population().values()) - pop
        nat = float((total[ep] * expo[ep]).sum()) - o
        nat_rate = 1e5 * nat / national_pop / months if national_pop else None
        sel = rows[mask & (f.t[rows] >= t0) & (f.t[rows] <= t1)]
        from centinela.reference.ubigeo import departments

        dname = departments().get(code, code)
        excess_share = max(o - e, 0.0) / o if o else 0.0
        m_obs = float(mme[ep].sum())
        summary = (f"El departamento de {dname} registró {fmt(o)} dispensaciones y administraciones "
                   f"de opioides entre {month_label(m0 + ep[0])} y {month_label(m0 + ep[-1])}, "
                   f"{o / e:.2f} veces lo esperado por su historia y la tendencia nacional.")
        return self.draft(
            code, t0, t1, strength_from_p(p_from_z(zc)), m_obs * excess_share, summary,
            {"metric": "dispensations + administrations per month", "observed": o, "expected": e,
             "ratio": o / e if e else None, "z": zc, "p_value": p_from_z(zc), "mme": m_obs,
             "months": [month_label(m0 + m) for m in ep],
             "rate_per_100k": per100k, "national_rate_per_100k": nat_rate,
             "population": pop, **f.events(sel)},
            department=code,
        )


def _runs(months: list[int]) -> list[list[int]]:
    """Group sorted month indexes into runs of consecutive months."""
    runs: list[list[int]] = []
    for m in months:
        if runs and m - runs[-1][-1] == 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs
