"""National summary of what is stored (the demo's closing screen and its JSON twin)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela.ledger.balances import balance_only_establishments
from centinela.ledger.models import PeriodicBalance
from centinela.ledger.records import ImportRun, Movement, Rejection, Seizure
from centinela.ledger.stock import signed_quantity, strengths
from centinela.reference import ubigeo
from centinela.registry.models import Establishment, Product, Professional

_QUOTED = re.compile(r"'[^']*'")
_IMPORT_REF = re.compile(r"\s*\(import #\d+\)")


def _counts(session: Session, col: Any) -> dict[str, int]:
    return {str(k): int(n) for k, n in session.execute(
        select(col, func.count()).group_by(col).order_by(col))}


def reason_key(reason: str) -> str:
    """Group rejection reasons: quoted values and import numbers removed."""
    return _IMPORT_REF.sub("", _QUOTED.sub("'…'", reason))


def on_hand(session: Session) -> list[tuple[str, str, float]]:
    """Book stock per establishment and product: the last physical count plus the movements
    after it, or the movements alone where nothing was ever counted (an establishment that
    went live with an opening count is not "negative" for the stock it had before)."""
    last = (select(Movement.establishment_id.label("est"), Movement.product_code.label("prod"),
                   func.max(Movement.occurred_at).label("at"))
            .where(Movement.event_type == "count")
            .group_by(Movement.establishment_id, Movement.product_code).subquery())
    counted = dict(((e, p), float(q or 0.0)) for e, p, q in session.execute(
        select(Movement.establishment_id, Movement.product_code, func.max(Movement.quantity))
        .join(last, (last.c.est == Movement.establishment_id)
              & (last.c.prod == Movement.product_code) & (last.c.at == Movement.occurred_at))
        .where(Movement.event_type == "count")
        .group_by(Movement.establishment_id, Movement.product_code)))
    after = (select(Movement.establishment_id, Movement.product_code,
                    func.sum(signed_quantity()))
             .outerjoin(last, (last.c.est == Movement.establishment_id)
                        & (last.c.prod == Movement.product_code))
             .where((last.c.at.is_(None)) | (Movement.occurred_at > last.c.at))
             .group_by(Movement.establishment_id, Movement.product_code))
    flows = {(e, p): float(q or 0.0) for e, p, q in session.execute(after)}
    return [(e, p, counted.get((e, p), 0.0) + flows.get((e, p), 0.0))
            for e, p in sorted(set(counted) | set(flows))]


def national_summary(session: Session) -> dict[str, Any]:
    """Return establishments, professionals, movements, stock on hand and rejections."""
    deps = ubigeo.departments()
    by_dep = {}
    q = (select(Establishment.department, func.count(Movement.id))
         .join(Establishment, Establishment.establishment_id == Movement.establishment_id)
         .group_by(Establishment.department).order_by(Establishment.department))
    for code, n in session.execute(q):
        by_dep[code] = {"name": deps.get(code, code), "movements": int(n)}

    info = strengths(session)
    stock: dict[str, dict[str, Any]] = {}
    negative = 0
    for _est, prod, units in on_hand(session):
        sub, mg = info.get(prod, ("unknown", 0.0))
        s = stock.setdefault(sub, {"units": 0.0, "mg": 0.0, "negative_balances": 0})
        if units < 0:
            s["negative_balances"] += 1
            negative += 1
            continue
        s["units"] += units
        s["mg"] += units * mg
    for s in stock.values():
        s["units"] = round(s["units"], 3)
        s["mg"] = round(s["mg"], 3)

    reasons: Counter[tuple[str, str, str]] = Counter()
    for kind, field, reason, n in session.execute(
            select(Rejection.kind, Rejection.field, Rejection.reason, func.count())
            .group_by(Rejection.kind, Rejection.field, Rejection.reason)):
        reasons[(kind, field or "", reason_key(reason))] += int(n)
    pros = _counts(session, Professional.role)
    certified = session.scalar(select(func.count()).select_from(Professional)
                               .where(Professional.opioid_certified_on.is_not(None))) or 0
    balances = balance_summary(session, info)
    for sub, b in balances["balance_only"].items():  # counted too, marked as from balances
        st = stock.setdefault(sub, {"units": 0.0, "mg": 0.0, "negative_balances": 0})
        st["units"] = round(st["units"] + b["closing_units"], 3)
        st["mg"] = round(st["mg"] + b["closing_mg"], 3)
        st["from_balances_units"] = b["closing_units"]
    fent = stock.get("fentanyl", {"units": 0.0, "mg": 0.0, "negative_balances": 0})
    return {
        "establishments": {"total": sum(_counts(session, Establishment.kind).values()),
                           "by_kind": _counts(session, Establishment.kind)},
        "professionals": {"total": sum(pros.values()), "by_role": pros,
                          "opioid_certified": int(certified)},
        "products": {"total": session.scalar(select(func.count()).select_from(Product)) or 0,
                     "by_substance": _counts(session, Product.substance)},
        "movements": {"total": session.scalar(select(func.count()).select_from(Movement)) or 0,
                      "by_type": _counts(session, Movement.event_type),
                      "by_department": by_dep},
        "stock_on_hand": {"fentanyl_units": fent["units"], "fentanyl_mg": fent["mg"],
                          "by_substance": stock, "negative_balances": negative},
        "balances": balances,
        "seizures": session.scalar(select(func.count()).select_from(Seizure)) or 0,
        "imports": session.scalar(select(func.count()).select_from(ImportRun)) or 0,
        "rejections": {
            "total": sum(reasons.values()),
            "by_reason": [{"kind": k, "field": f, "reason": r, "count": n}
                          for (k, f, r), n in reasons.most_common(25)],
        },
    }


def balance_summary(session: Session, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Periodic balances: who reports them, and what balance-only establishments hold and issue.

    An establishment that reports balances but no movement still counts in the national
    figures: its issues (all periods) and its latest closing stock, per substance.
    """
    info = info if info is not None else strengths(session)
    only = balance_only_establishments(session)
    reporting = session.scalar(select(func.count(func.distinct(
        PeriodicBalance.establishment_id)))) or 0
    out: dict[str, dict[str, Any]] = {}
    latest: dict[tuple[str, str], PeriodicBalance] = {}
    for b in session.scalars(select(PeriodicBalance).where(
            PeriodicBalance.establishment_id.in_(only)).order_by(PeriodicBalance.period_end)):
        sub, mg = info.get(b.product_code, ("unknown", 0.0))
        s = out.setdefault(sub, {"issued_units": 0.0, "issued_mg": 0.0, "closing_units": 0.0,
                                 "closing_mg": 0.0})
        s["issued_units"] += b.issues_units
        s["issued_mg"] += b.issues_units * mg
        latest[(b.establishment_id, b.product_code)] = b
    for (_est, prod), b in latest.items():
        sub, mg = info.get(prod, ("unknown", 0.0))
        out[sub]["closing_units"] += b.closing_units
        out[sub]["closing_mg"] += b.closing_units * mg
    for s in out.values():
        for k in s:
            s[k] = round(s[k], 3)
    return {"establishments_reporting": int(reporting),
            "balance_only_establishments": len(only), "balance_only": out}


def format_summary(data: dict[str, Any]) -> str:
    """Render the national summary as text (Spanish first, English after the slash)."""
    est, pro, mov = data["establishments"], data["professionals"], data["movements"]
    stock, rej = data["stock_on_hand"], data["rejections"]
    lines = [
        "Resumen nacional / national summary",
        f"Establecimientos / establishments: {est['total']:,}  "
        + ", ".join(f"{k} {v:,}" for k, v in est["by_kind"].items()),
        f"Profesionales / professionals: {pro['total']:,}  "
        + ", ".join(f"{k} {v:,}" for k, v in pro["by_role"].items())
        + f"; certificados en opioides / opioid-certified {pro['opioid_certified']:,}",
        f"Productos / products: {data['products']['total']:,}",
        f"Movimientos / movements: {mov['total']:,}",
    ]
    lines.extend(f"  {k:<13} {v:>12,}" for k, v in mov["by_type"].items())
    if mov["by_department"]:
        lines.append("Movimientos por departamento / movements by department:")
        lines.extend(f"  {code} {d['name']:<15} {d['movements']:>12,}"
                     for code, d in mov["by_department"].items())
    lines.append(f"Stock en libros de fentanilo / fentanyl book stock on hand: "
                 f"{stock['fentanyl_units']:,.1f} unidades/units = {stock['fentanyl_mg']:,.1f} mg")
    for sub, s in stock["by_substance"].items():
        if sub != "fentanyl":
            lines.append(f"  {sub}: {s['units']:,.1f} units = {s['mg']:,.1f} mg")
    bal = data.get("balances") or {}
    if bal.get("balance_only_establishments"):
        lines.append(f"  de ellos, por balances periódicos / of which from periodic balances "
                     f"({bal['balance_only_establishments']:,} establecimientos solo con "
                     "balances / balance-only establishments): " + ", ".join(
                         f"{sub} {b['closing_units']:,.1f} units"
                         for sub, b in bal["balance_only"].items()))
    if stock["negative_balances"]:
        lines.append(f"  saldos negativos / negative book balances: {stock['negative_balances']:,}")
    lines.append(f"Decomisos / seizures: {data['seizures']:,}; importaciones / imports: "
                 f"{data['imports']:,}")
    lines.append(f"Registros rechazados / rejected records: {rej['total']:,}")
    lines.extend(f"  {r['count']:>8,}  [{r['kind']}] {r['field'] or '-'}: {r['reason']}"
                 for r in rej["by_reason"][:10])
    return "\n".join(lines)
