"""Stock of one product at one establishment: FIFO lots on the shelf and what the books say."""

from __future__ import annotations

from collections import deque


class Pair:
    """Physical stock as FIFO chunks ``[lot, expiry, qty, first_serial]`` plus bookkeeping.

    ``gap`` is book minus physical: units that left the shelf without a record (diversion), or
    phantom units a falsified count would keep on the books.
    """

    __slots__ = ("est", "key", "chunks", "physical", "gap", "transit", "used", "ema",
                 "pending", "stocked")

    def __init__(self, est: int, key: str, ema: float = 0.0) -> None:
        self.est = est
        self.key = key
        self.chunks: deque[list] = deque()
        self.physical = 0
        self.gap = 0
        self.transit = 0
        self.used = 0.0
        self.ema = ema
        self.pending = False  # an emergency order is under way
        self.stocked = True

    @property
    def book(self) -> int:
        return self.physical + self.gap

    def add(self, lot: str, expiry: str, qty: int, first_serial: int) -> None:
        """Put ``qty`` units of a lot on the shelf."""
        self.chunks.append([lot, expiry, qty, first_serial])
        self.physical += qty

    def take(self, qty: int) -> list[tuple[str, str, int, int]]:
        """Remove ``qty`` units first-in first-out; the caller checked they are there."""
        out = []
        left = qty
        chunks = self.chunks
        while left > 0:
            c = chunks[0]
            k = c[2] if c[2] <= left else left
            out.append((c[0], c[1], k, c[3]))
            c[2] -= k
            c[3] += k
            left -= k
            if c[2] == 0:
                chunks.popleft()
        self.physical -= qty
        return out

    def expired(self, today_iso: str) -> list[tuple[str, str, int, int]]:
        """Remove and return the chunks whose expiry date is before ``today_iso``."""
        keep, out = deque(), []
        for c in self.chunks:
            if c[1] < today_iso:
                out.append((c[0], c[1], c[2], c[3]))
                self.physical -= c[2]
            else:
                keep.append(c)
        self.chunks = keep
        return out
