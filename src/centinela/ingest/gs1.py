"""GS1 DataMatrix scans of serialized packs: parse with ``biip`` and check them against a row.

A movement may carry ``gs1_scan``, the raw text a scanner read from the pack (with FNC1/GS
separators or a ``]d2`` symbology prefix), its human-readable form ``(01)…(17)…(10)…(21)…`` or a
GS1 Digital Link URI. The scan gives the GTIN (AI 01), expiry (AI 17), lot (AI 10) and serial
(AI 21). Intake fills empty ``lot``, ``expiry`` and ``serial`` from it and rejects a row whose
fields contradict it, or whose product is not the scanned GTIN.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from centinela.ingest.values import Invalid

GS = "\x1d"


@dataclass(frozen=True)
class Scan:
    """What a pack's code says."""

    gtin: str | None
    lot: str | None
    expiry: dt.date | None
    serial: str | None


@lru_cache(maxsize=65_536)
def parse_scan(text: str) -> Scan:
    """Parse a scan; raise ``Invalid('gs1_scan', …)`` when it is not a GS1 code with a GTIN."""
    import biip
    from biip.gs1_messages import GS1Message

    raw = text.strip().replace("<GS>", GS).replace("\\x1d", GS)
    elements = None
    error = None
    if raw.startswith("("):
        try:
            elements = GS1Message.parse_hri(raw).element_strings
        except Exception as exc:  # biip raises its ParseError on bad input
            error = str(exc)
    else:
        result = biip.parse(raw)
        if result.gs1_message is not None:
            elements = result.gs1_message.element_strings
        elif result.gs1_digital_link_uri is not None:
            elements = result.gs1_digital_link_uri.element_strings
        else:
            error = result.gs1_message_error or "unreadable"
    if not elements:
        raise Invalid("gs1_scan", "código GS1 ilegible / not a readable GS1 code: "
                                  f"{(error or '')[:120]}")
    by_ai = {e.ai.ai: e for e in elements}
    gtin_es = by_ai.get("01")
    if gtin_es is None:
        raise Invalid("gs1_scan", "el código GS1 no tiene GTIN (AI 01) / the GS1 code has no "
                                  "GTIN (AI 01)")
    if gtin_es.gtin_error:
        raise Invalid("gs1_scan", "dígito de control del GTIN inválido / invalid GTIN check "
                                  "digit")
    exp = by_ai.get("17")
    return Scan(gtin=normalize_gtin(gtin_es.value),
                lot=by_ai["10"].value if "10" in by_ai else None,
                expiry=exp.date if exp is not None else None,
                serial=by_ai["21"].value if "21" in by_ai else None)


def normalize_gtin(value: str) -> str:
    """GTIN-8/12/13/14 as 14 digits (the form AI 01 carries)."""
    digits = value.strip()
    return digits.zfill(14) if digits.isdigit() and len(digits) <= 14 else digits


def reconcile(scan: Scan, product: str, product_gtin: str | None, lot: str, expiry: str,
              serial: str) -> tuple[str, str, str]:
    """Check a row against its scan; return ``lot``, ``expiry`` (ISO) and ``serial`` filled in.

    ``product_gtin`` is the product's registered GTIN; a product whose code is itself a GTIN
    matches by code.
    """
    known = {normalize_gtin(product)} if product.isdigit() else set()
    if product_gtin:
        known.add(normalize_gtin(product_gtin))
    if scan.gtin not in known:
        raise Invalid("gs1_scan", f"el GTIN escaneado {scan.gtin} no es el del producto / the "
                                  f"scanned GTIN {scan.gtin} is not product {product!r}'s")
    if scan.lot is not None:
        if lot and lot != scan.lot:
            raise Invalid("lot", f"el lote no coincide con el escaneo / lot {lot!r} contradicts "
                                 f"the scan ({scan.lot!r})")
        lot = scan.lot
    if scan.expiry is not None:
        iso = scan.expiry.isoformat()
        if expiry and expiry != iso:
            raise Invalid("expiry", f"el vencimiento no coincide con el escaneo / expiry "
                                    f"{expiry} contradicts the scan ({iso})")
        expiry = iso
    if scan.serial is not None:
        if serial and serial != scan.serial:
            raise Invalid("serial", f"la serie no coincide con el escaneo / serial {serial!r} "
                                    f"contradicts the scan ({scan.serial!r})")
        serial = scan.serial
    return lot, expiry, serial
