"""Administrations after the patient's course: doses one professional records for patients
whose treatment, by every other record, had ended days before."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.scoring import bh_keep, binom_sf, strength_from_p
from centinela.detect.util import lima_night


class LateAdministration(Detector):
    """A professional who records administrations to patients after everyone else has stopped.

    A patient's course at an establishment is what its administrations show: doses given by
    the ward's nurses in turn. A dose recorded **after the course**, when no one else has given
    that patient anything for two days or more and no one else gives anything afterwards, is
    what a diverted ampoule charged to a discharged or recovered patient looks like (the
    automated-cabinet audits' "withdrawal after discharge"). It also happens honestly: a
    patient whose last doses were all given by one nurse, a late procedure. So the rule is
    a base rate, not single events: for each professional, n = the patient courses she gave
    doses in, k = the courses where she alone gave doses ≥ 48 h after the last dose by anyone
    else; the expected share is that of the other professionals of the same establishment
    (pooled, leave-one-out; the national share where the establishment has fewer than 50
    courses), never below 1 %.

    Flagged when k ≥ 4 patients, k/n ≥ 3 × the expected share, and the binomial tail
    P(X ≥ k) survives Benjamini–Hochberg (q = 5 %) over every professional with ≥ 8 courses.
    The evidence says how many of those doses were at night (22:00–06:00 Lima) and how many
    left no recorded residue, the two marks of
    a dose that was never given (residue = her next event with that product at that
    establishment is a waste, within the hour); the MME of the late doses is the magnitude.
    """

    name = "late_administration"
    title = ("Administraciones después del fin del tratamiento / Administrations after the "
             "patient's course")
    tolerates = (
        "a patient's last doses given by one nurse (the base rate of the establishment's other "
        "professionals), readmissions (doses by others after hers end the tail), continuous "
        "care by one nurse (a tail needs 48 h without anyone else's dose), and a few patients "
        "(k >= 4)."
    )
    subject_kind = "professional"
    topics = ("diversion", "custody")
    thresholds = {"late dose": "≥ 48 h after anyone else's last dose, none after",
                  "patients": "≥ 4 courses with late doses",
                  "share": "≥ 3 × the establishment's other professionals' (floor 1 %)",
                  "multiple testing": "Benjamini–Hochberg q = 5 % over professionals with "
                                      "≥ 8 courses"}
    evidence_fields = ("observed", "expected", "courses", "late_courses", "late_doses",
                       "night_doses", "without_residue", "patients", "event_ids")

    GAP_H, MIN_LATE, MIN_COURSES, RATIO, FLOOR, LOCAL_MIN = 48.0, 4, 8, 3.0, 0.01, 50

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        adm = np.flatnonzero(f.is_type("administer") & (f.patient >= 0) & (f.professional >= 0))
        if len(adm) < 2 * self.MIN_COURSES:
            return []
        # Courses: (establishment, patient), doses in time order.
        order = np.lexsort((f.t[adm], f.patient[adm], f.est[adm]))
        adm = adm[order]
        est, pat, who, t = f.est[adm], f.patient[adm], f.professional[adm], f.t[adm]
        new = np.ones(len(adm), dtype=bool)
        new[1:] = (est[1:] != est[:-1]) | (pat[1:] != pat[:-1])
        course = np.cumsum(new) - 1
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(adm))
        gap = self.GAP_H * 3600
        late = np.zeros(len(adm), dtype=bool)
        # A course's tail: the doses after the last dose by anyone but the tail's professional,
        # all by one professional, the first of them ≥ 48 h after that last dose.
        for s, e in zip(starts, ends, strict=True):
            if e - s < 3:
                continue
            last = who[e - 1]
            others = np.flatnonzero(who[s:e] != last)
            if not len(others):
                continue
            j = s + int(others[-1])  # the last dose by someone else
            if t[j + 1] - t[j] >= gap and t[j + 1] <= ctx.now_t:
                late[j + 1:e] = True
        in_scope = ctx.in_scope[adm]
        nprof = len(f.profv)
        nest = int(est.max()) + 1
        # Courses per professional (a course counts once for each professional with a dose in
        # the window), and per establishment × professional for the leave-one-out base rate.
        pair = np.unique(np.stack([course[in_scope], who[in_scope].astype(np.int64)]), axis=1)
        lc = np.unique(np.stack([course[late & in_scope], who[late & in_scope].astype(np.int64)]),
                       axis=1)
        n = np.bincount(pair[1], minlength=nprof)
        k = np.bincount(lc[1], minlength=nprof) if lc.size else np.zeros_like(n)
        tested = np.flatnonzero(n >= self.MIN_COURSES)
        if not len(tested):
            return []
        course_est = est[starts].astype(np.int64)
        pe = course_est[pair[0]] * nprof + pair[1]
        le = course_est[lc[0]] * nprof + lc[1] if lc.size else np.zeros(0, dtype=np.int64)
        n_est = np.bincount(course_est[pair[0]], minlength=nest)
        k_est = np.bincount(course_est[lc[0]], minlength=nest) if lc.size else np.zeros_like(n_est)
        pe_keys, pe_n = np.unique(pe, return_counts=True)
        le_keys, le_n = np.unique(le, return_counts=True)
        n_pe = dict(zip(pe_keys.tolist(), pe_n.tolist(), strict=True))
        k_pe = dict(zip(le_keys.tolist(), le_n.tolist(), strict=True))
        # Each professional's home: the establishment of most of her courses.
        home_of: dict[int, tuple[int, int]] = {}
        for key, cnt in n_pe.items():
            e_, c_ = divmod(key, nprof)
            if c_ not in home_of or cnt > home_of[c_][1]:
                home_of[c_] = (e_, cnt)
        total_n, total_k = int(n.sum()), int(k.sum())
        cands = []
        for c in (int(x) for x in tested):
            kc, nc = int(k[c]), int(n[c])
            home = home_of[c][0]
            local_n = int(n_est[home]) - n_pe.get(home * nprof + c, 0)
            if local_n >= self.LOCAL_MIN:
                base = (int(k_est[home]) - k_pe.get(home * nprof + c, 0)) / local_n
            else:
                others_n = total_n - nc
                base = (total_k - kc) / others_n if others_n else 0.0
            base = max(base, self.FLOOR)
            if kc < self.MIN_LATE or kc / nc < self.RATIO * base:
                cands.append((c, 1.0, base))
                continue
            cands.append((c, binom_sf(kc, nc, base), base))
        keep = bh_keep([p for _c, p, _b in cands], len(cands))
        out = []
        for (c, p, base), ok in zip(cands, keep, strict=True):
            if ok and p < 1.0:
                rows_c = late & in_scope & (who == c)
                out.append(self._alert(ctx, c, p, base, int(k[c]), int(n[c]), adm[rows_c],
                                       course[rows_c]))
        return out

    def _alert(self, ctx: DetectionContext, c: int, p: float, base: float, k: int, n: int,
               rows: np.ndarray, courses: np.ndarray) -> AlertDraft:
        f = ctx.frame
        name = f.profv.name(c)
        t0, t1 = int(f.t[rows].min()), int(f.t[rows].max())
        night = int(lima_night(f.t[rows]).sum())
        # Residue: her next event with the same product at the same establishment is a waste,
        # within the hour (the rest of the ampoule she opened for this dose).
        mine = np.flatnonzero(f.is_type("waste", "administer") & (f.professional == c))
        mine = mine[np.argsort(f.t[mine], kind="stable")]
        is_waste = f.is_type("waste")
        residue = 0
        for r in rows:
            same = mine[(f.est[mine] == f.est[r]) & (f.product[mine] == f.product[r])
                        & (f.t[mine] >= f.t[r]) & (mine != r)]
            if len(same) and is_waste[same[0]] and f.t[same[0]] - f.t[r] <= 3600:
                residue += 1
        mme = float(ctx.row_mme[rows].sum())
        patients = int(len(np.unique(f.patient[rows])))
        ests = f.est[rows]
        top = int(np.bincount(ests).argmax())
        summary = (f"{name} registró {len(rows)} administraciones a {patients} pacientes cuyo "
                   f"tratamiento, según todos los demás registros, había terminado al menos "
                   f"{int(self.GAP_H)} h antes ({k} de sus {n} tratamientos, frente a "
                   f"{base:.0%} en sus colegas), {night} de ellas de noche y {len(rows) - residue} "
                   f"sin residuo registrado: {fmt(mme)} MME entre el {day_str(t0)} y el "
                   f"{day_str(t1)}.")
        return self.draft(
            name, t0, t1, strength_from_p(p), mme, summary,
            {"metric": "courses with late doses", "observed": round(k / n, 4),
             "expected": round(base, 4), "courses": n, "late_courses": k,
             "late_doses": int(len(rows)), "night_doses": night,
             "without_residue": int(len(rows) - residue), "patients": patients,
             "p_value": p, "establishment_id": f.estv.name(top), **f.events(rows)},
            department=ctx.est_department(top),
        )
