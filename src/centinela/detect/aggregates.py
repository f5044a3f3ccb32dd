"""Long history as set-based aggregates computed by the database, not as raw movements.

Batch detection loads the raw movements of the lookback window plus a short history
(``window.HISTORY_DAYS``, at most ~120 days, what the patient rules need). The detectors whose
baselines need a year or more (``window.AGGREGATE_DAYS``) read the history before that frame
through this module: one ``GROUP BY`` query per question (establishment × product × month,
prescriber × product, …), pushed down to SQLite or PostgreSQL, whose result grows with the
subjects × months asked for, never with the movements stored. The time filter is on
``occurred_at``, so PostgreSQL prunes the monthly partitions outside the range.

The range ``[since, until)`` ends where the raw frame begins. The month that instant falls in
is split: its cells here hold the part before the frame, and the frame's rows the rest (sums
and counts add up; ``History.raw_month`` is the first month wholly in the frame).

    hist = ctx.history                     # None: no history before the frame to aggregate
    g = hist.grouped(("establishment", "product", "event_type"), monthly=True)
    g.keys["establishment"], g.month, g.qty, g.rows, g.first_t   # one entry per group

Grouping columns may be empty (``None``): callers filter as they filter the frame's ``-1``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, ColumnElement, Integer, and_, cast, func, select, text
from sqlalchemy.engine import Connection

from centinela.detect.frame import Vocab, to_epoch
from centinela.ledger.records import Movement
from centinela.lib.clock import LIMA_OFFSET_S

LIMA = dt.timedelta(seconds=LIMA_OFFSET_S)  # Lima wall time = UTC + LIMA (UTC-5, no DST)

# The columns a detector may group by (a closed list: the query is built from it).
COLUMNS = {
    "establishment": Movement.establishment_id,
    "product": Movement.product_code,
    "prescriber": Movement.prescriber_id,
    "professional": Movement.professional_id,
    "patient": Movement.patient_id,
    "event_type": Movement.event_type,
}


@dataclass
class Groups:
    """The result of one aggregate query: one entry per group (and month when monthly).

    ``keys[col]`` the group's values (``None`` for empty), ``month`` the Lima month index
    (months since 1970-01, as ``detect.util.month_index``; ``None`` when not monthly), ``qty``
    the sum of ``quantity``, ``rows`` the number of movements, ``first_t`` the earliest
    ``occurred_at`` as epoch seconds (the frame's ``t``).
    """

    keys: dict[str, list[str | None]] = field(default_factory=dict)
    month: np.ndarray | None = None
    qty: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    first_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.rows)

    def codes(self, col: str, vocab: Vocab) -> np.ndarray:
        """Return the codes of column ``col`` in ``vocab`` (the frame's): ``-1`` for empty and
        ``len(vocab) + i`` for the i-th name the vocabulary does not know (history only). The
        vocabulary is not changed (the registry arrays stay aligned with it)."""
        out = np.empty(len(self), dtype=np.int64)
        extra = {name: len(vocab) + i for i, name in enumerate(self.extra_names(col, vocab))}
        for i, name in enumerate(self.keys[col]):
            c = vocab.code(name)
            out[i] = extra[name] if c == -2 else c  # type: ignore[index]
        return out

    def extra_names(self, col: str, vocab: Vocab) -> list[str]:
        """Return the names of column ``col`` that ``vocab`` does not know, in the order
        ``codes`` numbers them (from ``len(vocab)``)."""
        return list(dict.fromkeys(n for n in self.keys[col] if vocab.code(n) == -2))  # type: ignore[misc]


def month_expr(dialect: str) -> ColumnElement[int]:
    """SQL for the Lima calendar month index of ``occurred_at`` (naive UTC)."""
    shift = f"{LIMA_OFFSET_S} seconds"
    if dialect == "sqlite":
        shifted = func.strftime("%Y", Movement.occurred_at, shift)
        mon = func.strftime("%m", Movement.occurred_at, shift)
        return cast(shifted, Integer) * 12 + cast(mon, Integer) - (1970 * 12 + 1)
    lima = Movement.occurred_at + text(f"interval '{shift}'")
    return cast(func.extract("year", lima) * 12 + func.extract("month", lima)
                - (1970 * 12 + 1), Integer)


def _epoch_expr(dialect: str) -> ColumnElement[int]:
    if dialect == "sqlite":
        return cast(func.strftime("%s", Movement.occurred_at), Integer)
    return cast(func.extract("epoch", Movement.occurred_at), BigInteger)  # past 2038


def grouped(conn: Connection, since: dt.datetime | None, until: dt.datetime,
            by: Sequence[str], event_types: Sequence[str] = (), monthly: bool = False,
            where: ColumnElement[bool] | None = None) -> Groups:
    """Aggregate the movements with ``since <= occurred_at < until`` (``since`` None: from
    the first) of ``event_types`` (all when empty) by the columns ``by`` (names of
    ``COLUMNS``) and, when ``monthly``, the Lima month; ``where`` adds a condition."""
    dialect = conn.dialect.name
    cols = [COLUMNS[c] for c in by]
    group: list[Any] = list(cols)
    if monthly:
        group.append(month_expr(dialect).label("month"))
    conds: list[ColumnElement[bool]] = [Movement.occurred_at < until]
    if since is not None:
        conds.append(Movement.occurred_at >= since)
    if event_types:
        conds.append(Movement.event_type.in_(list(event_types)))
    if where is not None:
        conds.append(where)
    stmt = (select(*group, func.sum(Movement.quantity), func.count(),
                   func.min(_epoch_expr(dialect)))
            .where(and_(*conds)).group_by(*group))
    keys: dict[str, list[str | None]] = {c: [] for c in by}
    months: list[int] = []
    qty: list[float] = []
    rows: list[int] = []
    first: list[int] = []
    nb = len(by)
    row: Any
    for row in conn.execute(stmt):
        r = tuple(row)
        for i, c in enumerate(by):
            keys[c].append(r[i] or None)
        if monthly:
            months.append(int(r[nb]))
        qty.append(float(r[-3] or 0.0))
        rows.append(int(r[-2]))
        first.append(int(r[-1]))
    return Groups(keys=keys, month=np.array(months, dtype=np.int64) if monthly else None,
                  qty=np.array(qty, dtype=np.float64), rows=np.array(rows, dtype=np.int64),
                  first_t=np.array(first, dtype=np.int64))


class History:
    """The history before a run's raw frame, ``[since, until)``, served as aggregates.

    ``until`` is the first instant of the raw frame; ``since`` is where
    the run's declared history begins (``None``: the first movement stored). Results of the
    same question are computed once per run and shared by the detectors that ask it.
    """

    def __init__(self, conn: Connection, since: dt.datetime | None, until: dt.datetime) -> None:
        self.conn = conn
        self.since = since
        self.until = until
        self.until_t = to_epoch(until)
        self._cache: dict[tuple[Any, ...], Groups] = {}

    @property
    def raw_month(self) -> int:
        """Lima month index of the first month wholly in the raw frame (months before it have
        all, or part, of their movements here)."""
        d = self.until + LIMA
        split = d != dt.datetime(d.year, d.month, 1)
        return (d.year - 1970) * 12 + d.month - 1 + int(split)

    def grouped(self, by: Sequence[str], event_types: Sequence[str] = (),
                monthly: bool = False, where: ColumnElement[bool] | None = None,
                first_month: int | None = None) -> Groups:
        """Aggregate the history by ``by`` (see ``grouped``); ``first_month`` (a Lima month
        index) narrows it to months from that one on. Cached when ``where`` is None."""
        key = (tuple(by), tuple(event_types), monthly, first_month)
        if where is None and key in self._cache:
            return self._cache[key]
        since = self.since
        if first_month is not None:
            y, m = divmod(first_month, 12)
            start = dt.datetime(1970 + y, m + 1, 1) - LIMA  # Lima midnight, as UTC
            since = start if since is None else max(since, start)
        if since is not None and since >= self.until:
            out = Groups(keys={c: [] for c in by},
                         month=np.zeros(0, np.int64) if monthly else None)
        else:
            out = grouped(self.conn, since, self.until, by, event_types, monthly, where)
        if where is None:
            self._cache[key] = out
        return out
