"""Load movements once into columnar NumPy arrays that every detector shares.

String identifiers are interned to integer codes (``-1`` = empty); identifiers that are compared
across columns share one vocabulary: establishments with counterparties, professionals with
prescribers and witnesses. Times are epoch seconds (UTC). A national year (~1 M rows) loads in a
few seconds through the raw DB-API cursor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import BigInteger, Integer, cast, func, null, select
from sqlalchemy.engine import Connection

from centinela.ledger.records import EVENT_TYPES, Movement

EPOCH = dt.datetime(1970, 1, 1)
EVENT_CODE = {name: i for i, name in enumerate(EVENT_TYPES)}
INBOUND = ("import", "receipt", "transfer_in")
CONSUMED = ("dispense", "administer", "waste", "loss", "export")


def to_epoch(value: dt.datetime) -> int:
    """Return epoch seconds of a naive-UTC datetime."""
    return int((value.replace(tzinfo=None) - EPOCH).total_seconds())


def from_epoch(seconds: float) -> dt.datetime:
    """Return the naive-UTC datetime of epoch seconds."""
    return EPOCH + dt.timedelta(seconds=int(seconds))


class Vocab:
    """Intern strings to dense integer codes; ``None`` and ``''`` are ``-1``."""

    def __init__(self) -> None:
        self.index: dict[str | None, int] = {None: -1, "": -1}
        self.names: list[str] = []

    def encode(self, values) -> np.ndarray:
        idx, names = self.index, self.names
        # New strings get the next codes; lookups run at C speed.
        for v in set(values).difference(idx):
            idx[v] = len(names)
            names.append(v)
        return np.fromiter(map(idx.__getitem__, values), dtype=np.int32, count=len(values))

    def code(self, value: str | None) -> int:
        return self.index.get(value, -2)

    def name(self, code: int) -> str | None:
        return self.names[code] if code >= 0 else None

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class Frame:
    """Columnar movements; ``n`` rows. Event ids (only needed as evidence) are fetched lazily by
    row id through ``event_id_list``."""

    n: int = 0
    row_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    conn: Connection | None = None
    _eid_cache: dict[int, str] = field(default_factory=dict)
    etype: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    est: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    product: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    qty: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    counterparty: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    lot: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    serial: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    prescriber: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    professional: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    witness: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    patient: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    birth_year: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    patient_dept: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    days_supply: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    import_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    estv: Vocab = field(default_factory=Vocab)  # establishments and counterparties
    profv: Vocab = field(default_factory=Vocab)  # professionals, prescribers, witnesses
    prodv: Vocab = field(default_factory=Vocab)
    patv: Vocab = field(default_factory=Vocab)
    serialv: Vocab = field(default_factory=Vocab)
    lotv: Vocab = field(default_factory=Vocab)
    deptv: Vocab = field(default_factory=Vocab)

    def is_type(self, *names: str) -> np.ndarray:
        """Return a boolean mask of rows whose event type is one of ``names``."""
        return np.isin(self.etype, [EVENT_CODE[n] for n in names])

    def events(self, rows: np.ndarray, cap: int = 20) -> dict:
        """Return the capped list of event_ids behind a finding and their count."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        order = rows[np.argsort(self.t[rows], kind="stable")]
        return {"event_ids": self.event_id_list(order[:cap]), "event_count": int(len(rows))}

    def event_id_list(self, rows) -> list[str]:
        """Return the event_ids of frame rows (fetched from the database, cached)."""
        rows = [int(r) for r in np.atleast_1d(rows)]
        ids = [int(self.row_id[r]) for r in rows]
        missing = [i for i in ids if i not in self._eid_cache]
        # The rows' own time span bounds the query: on PostgreSQL it reads the months that
        # hold them (partition pruning), not every month's primary key. A second each side:
        # epoch seconds are rounded (PostgreSQL) or truncated (SQLite). Any id still missing
        # (a row whose time in the frame was not its own) is read without the bound.
        ts = self.t[np.asarray(rows)] if missing else np.zeros(1)
        span = (Movement.occurred_at >= from_epoch(int(ts.min()) - 1),
                Movement.occurred_at <= from_epoch(int(ts.max()) + 1))
        for bound in (span, ()):
            for k in range(0, len(missing), 500):
                stmt = select(Movement.id, Movement.event_id).where(
                    Movement.id.in_(missing[k:k + 500]), *bound)
                self._eid_cache.update(dict(self.conn.execute(stmt).all()))
            missing = [i for i in missing if i not in self._eid_cache]
        return [self._eid_cache[i] for i in ids]

    def event_id(self, row: int) -> str:
        """Return the event_id of one frame row."""
        return self.event_id_list([row])[0]


_COLUMNS = (
    Movement.id, Movement.event_type, Movement.establishment_id,
    Movement.product_code, Movement.quantity, Movement.counterparty_id, Movement.lot,
    Movement.serial, Movement.prescriber_id, Movement.professional_id, Movement.witness_id,
    Movement.patient_id, Movement.patient_birth_year, func.substr(Movement.patient_ubigeo, 1, 2),
    Movement.days_supply, Movement.import_id,
)


def _epoch_expr(dialect: str):
    if dialect == "sqlite":
        return cast(func.strftime("%s", Movement.occurred_at), Integer)
    return cast(func.extract("epoch", Movement.occurred_at), BigInteger)  # past 2038


# Rows fetched per round trip: the transient Python tuples of one chunk are the only
# per-row objects alive at once, so loading costs the NumPy columns plus one chunk.
CHUNK_ROWS = 10_000


def load_frame(conn: Connection, where=None, vocab_from: Frame | None = None,
               progress=None, serials: bool = True) -> Frame:
    """Load the movements matching ``where`` (all when None) into a Frame.

    Rows are streamed in chunks of ``CHUNK_ROWS`` and interned into compact columns as they
    arrive, so peak memory is the columns plus one chunk, never a list of every row.
    ``vocab_from`` reuses another frame's vocabularies so codes are comparable; ``progress``
    (optional) is called with the number of rows of each chunk. ``serials=False`` leaves the
    serial numbers out (every row ``-1``): unit serials are nearly unique, and only the
    detectors that follow serials (on their own frames) read them.
    """
    dialect = conn.dialect.name
    cols = list(_COLUMNS)
    if not serials:
        cols[cols.index(Movement.serial)] = null()
    stmt = select(*cols, _epoch_expr(dialect))
    if where is not None:
        stmt = stmt.where(where)
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    f = Frame()
    if vocab_from is not None:
        for name in ("estv", "profv", "prodv", "patv", "serialv", "lotv", "deptv"):
            setattr(f, name, getattr(vocab_from, name))
    f.conn = conn
    parts: list[dict[str, np.ndarray]] = []
    dbapi = conn.connection.dbapi_connection
    # A named (server-side) cursor on PostgreSQL streams; SQLite cursors stream natively.
    cur = dbapi.cursor(name="centinela_frame") if dialect == "postgresql" else dbapi.cursor()
    try:
        if dialect == "postgresql":
            cur.itersize = CHUNK_ROWS
            # A cursor is planned for its first 10 % of rows by default (an index scan over a
            # window of millions of rows); every row is read, so plan for all of them.
            with dbapi.cursor() as setter:
                setter.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        cur.execute(str(compiled))
        while True:
            rows = cur.fetchmany(CHUNK_ROWS)
            if not rows:
                break
            parts.append(_encode_chunk(f, rows))
            if progress is not None:
                progress(len(rows))
            del rows
    finally:
        cur.close()
    f.n = sum(len(p["row_id"]) for p in parts)
    if not parts:
        return f
    for name in list(parts[0]):
        # One column at a time, dropping its chunks as it goes: never two copies of the frame.
        setattr(f, name, np.concatenate([p.pop(name) for p in parts]))
    return f


def _encode_chunk(f: Frame, rows: list[tuple]) -> dict[str, np.ndarray]:
    """Turn one chunk of rows into compact columns (codes from ``f``'s vocabularies)."""
    n = len(rows)
    (ids, etypes, ests, prods, qtys, cps, lots, serials, prescr, profs, wits, pats,
     births, pubig, days, imps, ts) = zip(*rows, strict=True)
    return {
        "row_id": np.fromiter(ids, dtype=np.int64, count=n),
        "etype": np.fromiter((EVENT_CODE.get(e, -1) for e in etypes), dtype=np.int8, count=n),
        "t": np.fromiter(ts, dtype=np.int64, count=n),
        "est": f.estv.encode(ests),
        "counterparty": f.estv.encode(cps),
        "product": f.prodv.encode(prods),
        "qty": np.asarray(qtys, dtype=np.float64),
        "lot": f.lotv.encode(lots),
        "serial": f.serialv.encode(serials),
        "prescriber": f.profv.encode(prescr),
        "professional": f.profv.encode(profs),
        "witness": f.profv.encode(wits),
        "patient": f.patv.encode(pats),
        "birth_year": np.array([np.nan if b is None else b for b in births], dtype=np.float64),
        "patient_dept": f.deptv.encode(pubig),
        "days_supply": np.array([np.nan if d is None else d for d in days], dtype=np.float64),
        "import_id": np.array([-1 if i is None else i for i in imps], dtype=np.int64),
    }
