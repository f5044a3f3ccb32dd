"""SYNTHETIC X-ray-like parcel images (dual energy), with planted concealments and their boxes.

This is a generator written for Centinela, not a physical simulation: attenuation maps are built
from hand-set (high, low) attenuation coefficients per material, object thicknesses, blur and
noise. It exists to train and measure the baseline detector and to exercise the software; figures
measured on it say nothing about real scanners. Channels: ``high`` and ``low`` energy attenuation
in [0, 1] (``1 - exp(-μt)``); single-energy images carry ``high`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

CLASSES = ("powder", "concealment_electronics", "concealment_cosmetics", "liquid")
# (μ_high, μ_low) per unit thickness: low/high ratio grows with the effective atomic number.
MATERIALS = {
    "cloth": (0.10, 0.125), "paper": (0.22, 0.29), "plastic": (0.20, 0.25),
    "rubber": (0.28, 0.36), "water": (0.30, 0.43), "glass": (0.45, 0.80),
    "metal": (1.10, 2.60), "pcb": (0.55, 0.95), "battery": (0.90, 1.90),
    "food_powder": (0.30, 0.40), "drug_powder": (0.34, 0.44), "drug_liquid": (0.36, 0.47),
}


@dataclass
class XrayImage:
    high: np.ndarray
    low: np.ndarray | None
    boxes: list[tuple[int, int, int, int, str]] = field(default_factory=list)  # x0, y0, x1, y1

    @property
    def array(self) -> np.ndarray:
        return self.high if self.low is None else np.stack([self.high, self.low])


class _Canvas:
    def __init__(self, rng: np.random.Generator, h: int, w: int) -> None:
        self.rng, self.h, self.w = rng, h, w
        self.ah = np.zeros((h, w), np.float32)
        self.al = np.zeros((h, w), np.float32)
        self.yy, self.xx = np.mgrid[0:h, 0:w].astype(np.float32)

    def shape(self, cx, cy, rx, ry, angle=0.0, kind="rect", dome=False) -> np.ndarray:
        """Return a thickness profile in [0, 1] of a rotated rectangle or ellipse."""
        c, s = np.cos(angle), np.sin(angle)
        dx, dy = self.xx - cx, self.yy - cy
        u, v = (c * dx + s * dy) / max(rx, 0.5), (-s * dx + c * dy) / max(ry, 0.5)
        if kind == "ellipse":
            r2 = u * u + v * v
            inside = r2 <= 1
            prof = np.sqrt(np.clip(1 - r2, 0, 1)) if dome else inside.astype(np.float32)
        else:
            m = np.maximum(np.abs(u), np.abs(v))
            inside = m <= 1
            prof = np.clip((1 - m) * 4, 0, 1) if dome else inside.astype(np.float32)
        return (prof * inside).astype(np.float32)

    def add(self, prof: np.ndarray, material: str, thick: float) -> None:
        mh, ml = MATERIALS[material]
        self.ah += prof * mh * thick
        self.al += prof * ml * thick

    def rand_xy(self, margin: int) -> tuple[float, float]:
        return (float(self.rng.uniform(margin, self.w - margin)),
                float(self.rng.uniform(margin, self.h - margin)))


def _clothing(cv: _Canvas) -> None:
    r = cv.rng
    cx, cy = cv.rand_xy(10)
    prof = cv.shape(cx, cy, r.uniform(15, 45), r.uniform(10, 35), r.uniform(0, np.pi), "ellipse")
    folds = 0.6 + 0.4 * np.sin(cv.xx * r.uniform(0.2, 0.6) + cv.yy * r.uniform(-0.3, 0.3))
    cv.add(prof * folds, "cloth", r.uniform(1.0, 4.0))
    if r.random() < 0.3:  # zip or buttons
        for _ in range(r.integers(3, 8)):
            x, y = cx + r.uniform(-12, 12), cy + r.uniform(-12, 12)
            cv.add(cv.shape(x, y, 1.2, 1.2, 0, "ellipse"), "metal", 0.6)


def _book(cv: _Canvas) -> None:
    r = cv.rng
    cx, cy = cv.rand_xy(12)
    cv.add(cv.shape(cx, cy, r.uniform(10, 25), r.uniform(8, 18), r.uniform(0, np.pi)), "paper",
           r.uniform(1.5, 4.0))


def _electronics(cv: _Canvas, conceal: bool = False) -> tuple[int, int, int, int] | None:
    r = cv.rng
    cx, cy = cv.rand_xy(16)
    rx, ry, ang = r.uniform(10, 24), r.uniform(7, 16), float(r.choice([0, np.pi / 2, r.uniform(0, np.pi)]))
    cv.add(cv.shape(cx, cy, rx, ry, ang), "plastic", r.uniform(0.8, 1.6))
    c, s = np.cos(ang), np.sin(ang)

    def at(u, v):
        return cx + c * u - s * v, cy + s * u + c * v

    box = None
    if conceal:
        # The board and battery removed; an organic mass packed in their place.
        pu, pv = r.uniform(-rx * 0.2, rx * 0.2), r.uniform(-ry * 0.2, ry * 0.2)
        px, py = at(pu, pv)
        qx, qy = rx * r.uniform(0.45, 0.75), ry * r.uniform(0.45, 0.75)
        prof = cv.shape(px, py, qx, qy, ang, "rect", dome=True)
        cv.add(prof, "drug_powder", r.uniform(1.5, 4.5))
        ys, xs = np.nonzero(prof > 0.05)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        if r.random() < 0.5:  # a few components left for cover
            x, y = at(rx * 0.8, 0)
            cv.add(cv.shape(x, y, 2, ry * 0.6, ang), "pcb", 1.0)
    else:
        bx, by = at(r.uniform(-rx * 0.3, rx * 0.3), r.uniform(-ry * 0.3, ry * 0.3))
        board = cv.shape(bx, by, rx * 0.7, ry * 0.7, ang)
        grid = ((np.sin(cv.xx * 1.7) > 0.6) | (np.sin(cv.yy * 1.3) > 0.7)).astype(np.float32)
        cv.add(board * (0.5 + grid), "pcb", r.uniform(0.6, 1.2))
        if r.random() < 0.7:
            x, y = at(r.uniform(-rx * 0.5, rx * 0.5), r.uniform(-ry * 0.4, ry * 0.4))
            cv.add(cv.shape(x, y, rx * 0.35, ry * 0.3, ang), "battery", r.uniform(0.8, 1.5))
        for _ in range(r.integers(0, 3)):  # cables
            x, y = at(r.uniform(-rx, rx), r.uniform(-ry, ry))
            cv.add(cv.shape(x, y, r.uniform(6, 20), 0.8, r.uniform(0, np.pi)), "metal", 0.5)
    return box


def _bottle(cv: _Canvas, fill: str) -> tuple[int, int, int, int]:
    r = cv.rng
    cx, cy = cv.rand_xy(12)
    rx, ry, ang = r.uniform(4, 10), r.uniform(8, 18), r.uniform(0, np.pi)
    kind = "ellipse" if r.random() < 0.5 else "rect"
    wall = cv.shape(cx, cy, rx, ry, ang, kind)
    cv.add(wall, "glass" if r.random() < 0.3 else "plastic", 0.5)
    inner = cv.shape(cx, cy, rx * 0.85, ry * 0.85, ang, kind, dome=True)
    level = 1.0 if fill != "water" else float(r.uniform(0.5, 1.0))
    c, s = np.cos(ang), np.sin(ang)
    v = (-s * (cv.xx - cx) + c * (cv.yy - cy)) / ry
    if fill in ("water", "drug_liquid"):
        inner = inner * (v > 1 - 2 * level)
    thick = r.uniform(1.5, 3.5) if fill != "drug_powder" else r.uniform(1.2, 3.5)
    prof = inner * (1.0 if fill != "drug_powder" else 0.85 + 0.15 * r.random(inner.shape))
    cv.add(prof, fill, thick)
    cap_x, cap_y = cx - s * ry * 1.05, cy + c * ry * 1.05
    cv.add(cv.shape(cap_x, cap_y, rx * 0.6, 2.0, ang), "plastic", 1.2)
    ys, xs = np.nonzero(inner > 0.05)
    if len(xs) == 0:
        return (int(cx), int(cy), int(cx) + 1, int(cy) + 1)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def _powder_bag(cv: _Canvas, material: str) -> tuple[int, int, int, int]:
    r = cv.rng
    cx, cy = cv.rand_xy(10)
    rx, ry = r.uniform(4, 16), r.uniform(4, 14)
    prof = cv.shape(cx, cy, rx, ry, r.uniform(0, np.pi), r.choice(["ellipse", "rect"]), dome=True)
    cv.add(prof, material, r.uniform(0.8, 5.0))  # density/amount varies widely
    cv.add(cv.shape(cx, cy, rx * 1.05, ry * 1.05, 0, "ellipse"), "plastic", 0.15)
    ys, xs = np.nonzero(prof > 0.05)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def _misc(cv: _Canvas) -> None:
    r = cv.rng
    cx, cy = cv.rand_xy(6)
    k = r.integers(0, 4)
    if k == 0:  # shoe
        cv.add(cv.shape(cx, cy, r.uniform(12, 20), r.uniform(5, 8), r.uniform(0, np.pi), "ellipse",
                        dome=True), "rubber", r.uniform(1.5, 3))
    elif k == 1:  # tool or keys
        cv.add(cv.shape(cx, cy, r.uniform(6, 20), r.uniform(1, 3), r.uniform(0, np.pi)), "metal",
               r.uniform(0.4, 1.2))
    elif k == 2:  # toy
        cv.add(cv.shape(cx, cy, r.uniform(5, 14), r.uniform(5, 14), r.uniform(0, np.pi),
                        r.choice(["ellipse", "rect"])), "plastic", r.uniform(1, 3))
    else:  # supplement tub with capsules
        tub = cv.shape(cx, cy, r.uniform(7, 12), r.uniform(7, 12), 0, "ellipse")
        caps = (r.random(tub.shape) < 0.25).astype(np.float32)
        cv.add(tub * (0.3 + ndimage.uniform_filter(caps, 2)), "food_powder", r.uniform(1, 2.5))


def make_image(rng: np.random.Generator, threat: str | None = None, dual: bool = True,
               clutter: float | None = None) -> XrayImage:
    """Draw one parcel image; ``threat`` is one of ``CLASSES`` or None (benign)."""
    h, w = int(rng.integers(96, 161)), int(rng.integers(128, 193))
    cv = _Canvas(rng, h, w)
    # The box itself: cardboard walls.
    cv.add(cv.shape(w / 2, h / 2, w / 2 - 3, h / 2 - 3), "paper", 0.25)
    n = int(rng.integers(2, 9) if clutter is None else max(1, round(clutter)))
    items = rng.choice(["clothing", "book", "electronics", "cosmetics", "misc", "misc",
                        "clothing", "food_powder"], size=n)
    for it in items:
        if it == "clothing":
            _clothing(cv)
        elif it == "book":
            _book(cv)
        elif it == "electronics":
            _electronics(cv)
        elif it == "cosmetics":
            _bottle(cv, "water" if rng.random() < 0.7 else "food_powder")
        elif it == "food_powder":  # legitimate look-alike: coffee, protein powder, flour
            if rng.random() < 0.5:
                _powder_bag(cv, "food_powder")
        else:
            _misc(cv)
    boxes: list[tuple[int, int, int, int, str]] = []
    if threat == "powder":
        boxes.append((*_powder_bag(cv, "drug_powder"), threat))
    elif threat == "concealment_electronics":
        boxes.append((*_electronics(cv, conceal=True), threat))
    elif threat == "concealment_cosmetics":
        boxes.append((*_bottle(cv, "drug_powder"), threat))
    elif threat == "liquid":
        boxes.append((*_bottle(cv, "drug_liquid"), threat))
    elif threat is not None:
        raise ValueError(f"threat must be one of {CLASSES} or None")
    sigma = float(rng.uniform(0.5, 1.2))
    gain = float(rng.uniform(0.85, 1.15))  # scanner-to-scanner calibration differences
    out = []
    for a in (cv.ah, cv.al):
        img = 1.0 - np.exp(-ndimage.gaussian_filter(a * gain, sigma))
        img += rng.normal(0, rng.uniform(0.005, 0.025), img.shape).astype(np.float32)
        out.append(np.clip(img, 0, 1).astype(np.float32))
    return XrayImage(out[0], out[1] if dual else None, boxes)


def make_set(n: int, seed: int, threat_rate: float = 0.5, dual_rate: float = 0.8
             ) -> list[XrayImage]:
    """Draw ``n`` images, about ``threat_rate`` of them with one planted threat."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        threat = str(rng.choice(CLASSES)) if rng.random() < threat_rate else None
        out.append(make_image(rng, threat, dual=bool(rng.random() < dual_rate)))
    return out
