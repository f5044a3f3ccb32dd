"""Metrics of the triage: precision at an inspection rate, average precision, region matching."""

from __future__ import annotations

import numpy as np


def precision_at(scores: np.ndarray, labels: np.ndarray, rate: float = 0.02) -> float:
    """Return the share of true positives among the top ``rate`` of parcels by score."""
    k = max(1, int(round(len(scores) * rate)))
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]
    return float(np.asarray(labels)[top].mean())


def recall_at(scores: np.ndarray, labels: np.ndarray, rate: float = 0.02) -> float:
    """Return the share of all positives found in the top ``rate`` of parcels by score."""
    labels = np.asarray(labels)
    k = max(1, int(round(len(scores) * rate)))
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]
    return float(labels[top].sum() / max(labels.sum(), 1))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Return the average precision (area under the precision-recall steps)."""
    labels = np.asarray(labels).astype(bool)
    if not labels.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    hits = labels[order]
    prec = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(prec[hits].sum() / labels.sum())


def iou(a: tuple, b: tuple) -> float:
    """Return the intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def region_ap(detections: list[list[tuple[tuple, float]]], truths: list[list[tuple]],
              min_iou: float = 0.2) -> float:
    """Return class-agnostic detection AP: each truth box matched once by IoU ≥ ``min_iou``."""
    flat = [(score, i, box) for i, dets in enumerate(detections) for box, score in dets]
    flat.sort(key=lambda t: -t[0])
    n_true = sum(len(t) for t in truths)
    if n_true == 0:
        return float("nan")
    used: set[tuple[int, int]] = set()
    hits = []
    for _score, i, box in flat:
        best, best_j = 0.0, -1
        for j, tb in enumerate(truths[i]):
            if (i, j) in used:
                continue
            v = iou(box, tb)
            if v > best:
                best, best_j = v, j
        ok = best >= min_iou
        if ok:
            used.add((i, best_j))
        hits.append(ok)
    hits_a = np.array(hits, dtype=bool)
    if not hits_a.any():
        return 0.0
    prec = np.cumsum(hits_a) / np.arange(1, len(hits_a) + 1)
    return float(prec[hits_a].sum() / n_true)
