"""Photo intake: accept JPEG/PNG only, cap size and pixels, apply the EXIF orientation, then
re-encode from pixels alone so EXIF, GPS, XMP, ICC and PNG text chunks cannot survive."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from centinela.config import get_settings

MAX_PIXELS = 40_000_000


class PhotoError(ValueError):
    """A photo that cannot be accepted (says why)."""


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes
    media_type: str
    sha256: str
    width: int
    height: int


def sanitize(data: bytes) -> CleanPhoto:
    """Return the photo re-encoded as a metadata-free JPEG (or PNG when it has transparency)."""
    settings = get_settings().public
    if not data:
        raise PhotoError("photo: empty file")
    if len(data) > settings.photo_max_bytes:
        raise PhotoError(f"photo: larger than {settings.photo_max_bytes // 1_000_000} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in ("JPEG", "PNG"):
                raise PhotoError(f"photo: only JPEG or PNG accepted, got {fmt or 'unknown'}")
            if probe.width * probe.height > MAX_PIXELS:
                raise PhotoError("photo: too many pixels")
            probe.load()
            img = ImageOps.exif_transpose(probe)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PhotoError("photo: not a readable JPEG or PNG image") from exc
    img.thumbnail((settings.photo_max_side, settings.photo_max_side))
    has_alpha = "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info)
    keep_alpha = fmt == "PNG" and has_alpha
    # Copy pixels into a brand-new image: nothing from the original's info dict comes along.
    mode = "RGBA" if keep_alpha else "RGB"
    pixels = img.convert(mode)
    clean = Image.new(mode, pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    if keep_alpha:
        clean.save(out, format="PNG", optimize=True)
        media = "image/png"
    else:
        clean.save(out, format="JPEG", quality=85, optimize=True)
        media = "image/jpeg"
    content = out.getvalue()
    return CleanPhoto(content, media, hashlib.sha256(content).hexdigest(), *clean.size)
