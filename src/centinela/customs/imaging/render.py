"""Render an X-ray array as a PNG (pseudo-colour for dual energy) with detected regions drawn."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {"powder": (230, 40, 40), "concealment_electronics": (250, 150, 0),
           "concealment_cosmetics": (200, 0, 200), "liquid": (0, 120, 255)}


def to_rgb(arr: np.ndarray) -> np.ndarray:
    """Return uint8 RGB: organic orange, mixed green, metal blue (the convention of scanners)."""
    high = arr if arr.ndim == 2 else arr[0]
    bright = 1.0 - high
    if arr.ndim == 2:
        g = (bright * 255).astype(np.uint8)
        return np.stack([g, g, g], axis=-1)
    from scipy import ndimage

    sh, sl = ndimage.uniform_filter(high, 3), ndimage.uniform_filter(arr[1], 3)
    ratio = np.where(sh > 0.08, sl / np.maximum(sh, 1e-3), 1.25)
    z = np.clip((ratio - 1.25) / 0.9, 0, 1)  # 0 organic … 1 metal
    r = bright * (1 - 0.75 * z) + 0.25 * z * bright
    g = bright * (0.55 + 0.45 * np.clip(1 - abs(z - 0.4) * 2, 0, 1))
    b = bright * (0.25 + 0.75 * z)
    rgb = np.stack([r, g, b], axis=-1)
    rgb = np.where((sh < 0.03)[..., None], 1.0, rgb)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def png(arr: np.ndarray, regions: list[dict] | None = None, scale: int = 3) -> bytes:
    """Return PNG bytes of the image, enlarged ``scale`` times, with each region's box and class."""
    im = Image.fromarray(to_rgb(arr)).resize(
        (arr.shape[-1] * scale, arr.shape[-2] * scale), Image.NEAREST)
    draw = ImageDraw.Draw(im)
    for reg in regions or []:
        x0, y0, x1, y1 = (v * scale for v in reg["box"])
        colour = COLOURS.get(reg["cls"], (255, 0, 0))
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=3)
        draw.text((x0 + 3, max(y0 - 12, 0)), f"{reg['cls']} {reg['score']:.2f}", fill=colour)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=False)
    return buf.getvalue()
