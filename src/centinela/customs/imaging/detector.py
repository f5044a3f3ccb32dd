"""The image-detector interface, the shipped baseline (scikit-learn) and how models are loaded.

Any object with ``name`` and ``detect(images) -> list[list[Region]]`` is a detector. The shipped
baseline scores a grid of cells from local intensity, dual-energy ratio, texture and context
features with a small gradient-boosted classifier trained by ``centinela customs train-detector``
on the SYNTHETIC generator (``synth.py``); neighbouring suspicious cells are merged into regions.
A model trained on real images plugs in through ``CENTINELA_CUSTOMS_DETECTOR`` (docs/customs.md).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import ndimage

from centinela.customs.imaging.synth import CLASSES, XrayImage

CELL = 8
FEATURES = (
    "mean_h", "mean_l", "std_h", "std_l", "ratio", "ratio_std", "grad", "lap", "max_h", "min_h",
    "metal_frac", "ctx_mean_h", "ctx_metal", "ctx_ratio", "dual", "smooth", "mean_h_s", "ratio_s",
    "rel_h",
)
MODEL_FILE = "detector.joblib"


@dataclass
class Region:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels
    score: float  # 0..1, higher = more likely a concealment
    cls: str  # one of CLASSES (or the plugged model's own classes)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["box"], d["score"] = list(self.box), round(float(self.score), 4)
        return d


@runtime_checkable
class Detector(Protocol):
    """What the triage needs of an image model."""

    name: str

    def detect(self, images: list[np.ndarray]) -> list[list[Region]]:
        """Return the regions of each image ((H, W) single or (2, H, W) dual energy)."""
        ...


def _channels(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    # Back to log attenuation (μ·t): the low/high ratio then depends on the material, not on
    # its thickness nor on the scanner's gain.
    att = -np.log1p(-np.clip(arr, 0.0, 0.995))
    if att.ndim == 2:
        return att, att * 1.3, False  # single energy: no material information
    return att[0], att[1], True


def cell_features(arr: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Return (features of each CELL×CELL cell, grid shape), computed on 16-px windows."""
    high, low, dual = _channels(np.asarray(arr, dtype=np.float32))
    uf = ndimage.uniform_filter
    mh, ml = uf(high, 16), uf(low, 16)
    vh = np.maximum(uf(high * high, 16) - mh * mh, 0)
    vl = np.maximum(uf(low * low, 16) - ml * ml, 0)
    sh = uf(high, 3)
    ratio_px = np.where(sh > 0.06, uf(low, 3) / np.maximum(sh, 1e-3), 0.0)
    mr = uf(ratio_px, 16)
    vr = np.maximum(uf(ratio_px * ratio_px, 16) - mr * mr, 0)
    gy, gx = np.gradient(sh)
    grad = uf(np.hypot(gx, gy), 16)
    lap = uf(np.abs(ndimage.laplace(sh)), 16)
    mx = ndimage.maximum_filter(sh, 16)
    mn = ndimage.minimum_filter(sh, 16)
    metal = uf((ratio_px > 1.9).astype(np.float32) * (sh > 0.2), 16)
    cmh, cmetal, cr = uf(high, 40), uf((ratio_px > 1.9).astype(np.float32), 40), uf(ratio_px, 40)
    small_h, small_r = uf(high, 8), uf(ratio_px, 8)
    smooth = 1.0 / (1.0 + 50 * lap)
    h, w = high.shape
    ys = np.arange(CELL // 2, h - CELL // 2 + 1, CELL)
    xs = np.arange(CELL // 2, w - CELL // 2 + 1, CELL)
    iy, ix = np.meshgrid(ys, xs, indexing="ij")
    stack = [mh, ml, np.sqrt(vh), np.sqrt(vl), mr, np.sqrt(vr), grad, lap, mx, mn, metal,
             cmh, cmetal, cr, np.full_like(mh, float(dual)), smooth, small_h, small_r,
             small_h - cmh]
    feats = np.stack([f[iy, ix] for f in stack], axis=-1).reshape(-1, len(stack))
    if not dual:
        feats[:, [1, 3, 4, 5, 12, 13, 17]] = 0.0
        feats[:, 10] = 0.0
    return feats.astype(np.float32), (len(ys), len(xs))


def cell_labels(img: XrayImage, grid: tuple[int, int]) -> np.ndarray:
    """Return the class index of each cell (0 = background) from the planted boxes."""
    gh, gw = grid
    lab = np.zeros((gh, gw), np.int64)
    for x0, y0, x1, y1, cls in img.boxes:
        for gy in range(gh):
            cy0, cy1 = gy * CELL, gy * CELL + CELL
            oy = max(0, min(cy1, y1) - max(cy0, y0))
            if not oy:
                continue
            for gx in range(gw):
                cx0, cx1 = gx * CELL, gx * CELL + CELL
                ox = max(0, min(cx1, x1) - max(cx0, x0))
                if ox * oy >= 0.35 * CELL * CELL:
                    lab[gy, gx] = CLASSES.index(cls) + 1
    return lab.ravel()


def regions_from_cells(proba: np.ndarray, grid: tuple[int, int], classes: tuple[str, ...],
                       threshold: float = 0.3) -> list[Region]:
    """Merge neighbouring cells whose threat probability passes ``threshold`` into regions."""
    gh, gw = grid
    threat = 1.0 - proba[:, 0]
    mask = (threat >= threshold).reshape(gh, gw)
    labels, n = ndimage.label(mask)
    out = []
    for k in range(1, n + 1):
        ys, xs = np.nonzero(labels == k)
        idx = ys * gw + xs
        score = float(threat[idx].max())
        cls = classes[int(proba[idx, 1:].sum(axis=0).argmax())]
        out.append(Region((int(xs.min() * CELL), int(ys.min() * CELL),
                           int(xs.max() * CELL + CELL), int(ys.max() * CELL + CELL)), score, cls))
    out.sort(key=lambda r: -r.score)
    return out


class BaselineDetector:
    """Cell classifier (scikit-learn) over hand-built X-ray features; trained on SYNTHETIC images."""

    def __init__(self, model, meta: dict) -> None:
        self.model, self.meta = model, meta
        self.classes = tuple(meta.get("classes", CLASSES))
        self.threshold = float(meta.get("threshold", 0.3))
        self.name = f"baseline-{meta.get('version', '?')}"
        cal = meta.get("calibration") or {}
        self._edges = np.asarray(cal.get("edges", []), dtype=float)
        self._log_lr = np.asarray(cal.get("log_lr", []), dtype=float)

    def log_likelihood_ratio(self, scores: np.ndarray) -> np.ndarray:
        """Return log P(score | concealment) / P(score | none), measured on held-out images."""
        scores = np.asarray(scores, dtype=float)
        if not len(self._log_lr):
            return default_log_lr(scores)
        idx = np.clip(np.searchsorted(self._edges, scores, side="right") - 1, 0,
                      len(self._log_lr) - 1)
        return self._log_lr[idx]

    def detect(self, images: list[np.ndarray]) -> list[list[Region]]:
        feats, grids = zip(*(cell_features(a) for a in images), strict=True) if images else ((), ())
        if not images:
            return []
        from threadpoolctl import threadpool_limits

        # One thread: OpenMP workers spin-wait on a busy server and throughput collapses.
        with threadpool_limits(limits=1, user_api="openmp"):
            proba = self.model.predict_proba(np.concatenate(feats))
        out, start = [], 0
        for grid in grids:
            n = grid[0] * grid[1]
            out.append(regions_from_cells(proba[start:start + n], grid, self.classes,
                                          self.threshold))
            start += n
        return out


def default_log_lr(scores: np.ndarray) -> np.ndarray:
    """Log-odds of a score read as a probability at even prior (detectors without calibration)."""
    p = np.clip(np.asarray(scores, dtype=float), 0.01, 0.99)
    return np.log(p / (1 - p))


def log_likelihood_ratio(detector: Detector, scores: np.ndarray) -> np.ndarray:
    """Return the detector's calibrated log-likelihood ratios, or the even-prior default."""
    fn = getattr(detector, "log_likelihood_ratio", None)
    return fn(scores) if fn is not None else default_log_lr(scores)


def calibrate(det: BaselineDetector, n_images: int, seed: int, bins: int = 10) -> dict:
    """Measure, on held-out images, the likelihood ratio of each band of image scores."""
    from centinela.customs.imaging.synth import make_set

    images = make_set(n_images, seed, threat_rate=0.5)
    scores = np.array([image_score(r) for r in det.detect([im.array for im in images])])
    y = np.array([bool(im.boxes) for im in images])
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, bins - 1)
    pos = np.bincount(idx[y], minlength=bins) + 0.5  # smoothed: no band is ever certain
    neg = np.bincount(idx[~y], minlength=bins) + 0.5
    log_lr = np.log((pos / pos.sum()) / (neg / neg.sum()))
    log_lr = np.maximum.accumulate(log_lr)  # a higher score is never weaker evidence
    return {"edges": edges.tolist(), "log_lr": [round(float(v), 4) for v in log_lr],
            "n_images": n_images, "seed": seed}


def image_score(regions: list[Region]) -> float:
    """Return the image's score: its best region's, or 0 when nothing was found."""
    return max((r.score for r in regions), default=0.0)


def train(n_images: int = 1500, seed: int = 7, out: Path | None = None) -> dict:
    """Train the baseline on SYNTHETIC images; write ``detector.joblib`` and its metadata."""
    import joblib
    from sklearn.ensemble import HistGradientBoostingClassifier

    from centinela.customs.imaging.synth import make_set

    images = make_set(n_images, seed, threat_rate=0.6)
    xs, ys = [], []
    rng = np.random.default_rng(seed)
    for img in images:
        f, grid = cell_features(img.array)
        lab = cell_labels(img, grid)
        keep = (lab > 0) | (rng.random(len(lab)) < 0.35)  # thin out background cells
        xs.append(f[keep])
        ys.append(lab[keep])
    x, y = np.concatenate(xs), np.concatenate(ys)
    model = HistGradientBoostingClassifier(max_iter=120, max_depth=6, learning_rate=0.15,
                                           l2_regularization=1.0, random_state=seed)
    model.fit(x, y)
    import sklearn

    meta = {"version": f"synthetic-s{seed}-n{n_images}", "classes": list(CLASSES),
            "sklearn": sklearn.__version__,
            "features": list(FEATURES), "cell": CELL, "threshold": 0.3,
            "trained_on": "SYNTHETIC images from centinela.customs.imaging.synth (not real scans)",
            "n_cells": int(len(y)), "seed": seed, "n_images": n_images}
    meta["calibration"] = calibrate(BaselineDetector(model, meta), max(200, n_images // 3),
                                    seed + 1000)
    path = out or Path(str(resources.files("centinela.customs") / "data" / MODEL_FILE))
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path, compress=3)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    load_detector.cache_clear()
    return {**meta, "path": str(path), "bytes": path.stat().st_size}


def load_baseline(path: Path | None = None) -> BaselineDetector:
    """Load the shipped (or given) baseline model file and its metadata."""
    import joblib

    path = path or Path(str(resources.files("centinela.customs") / "data" / MODEL_FILE))
    if not path.is_file():
        raise FileNotFoundError(f"no detector model at {path}: run `centinela customs "
                                "train-detector`")
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    import sklearn

    if meta.get("sklearn", sklearn.__version__) != sklearn.__version__:
        import warnings

        warnings.warn(f"{path} was trained with scikit-learn {meta['sklearn']}, this is "
                      f"{sklearn.__version__}: run `centinela customs train-detector`",
                      stacklevel=2)
    try:
        model = joblib.load(path)
    except Exception as exc:  # unpickling across incompatible versions
        raise RuntimeError(f"cannot load {path} ({exc}); run `centinela customs "
                           "train-detector` to rebuild it from the generator") from exc
    return BaselineDetector(model, meta)


@lru_cache(maxsize=4)
def load_detector(spec: str = "") -> Detector:
    """Return the detector named by ``spec``: empty = the baseline, a ``.joblib`` path, or
    ``module:factory`` (a callable returning a ``Detector``, e.g. an ONNX model wrapper)."""
    if not spec:
        return load_baseline()
    if spec.endswith(".joblib"):
        return load_baseline(Path(spec))
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError("CENTINELA_CUSTOMS_DETECTOR must be empty, a .joblib path or "
                         "module:factory")
    det = getattr(importlib.import_module(module), name)()
    if not isinstance(det, Detector):
        raise TypeError(f"{spec} did not return an object with name and detect(images)")
    return det
