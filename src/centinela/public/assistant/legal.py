"""Questions about Law 32250 penalties by quantity ("qué pena hay por vender un miligramo", "me
detuvieron con 5 mg"): the answer comes from the tier function of ``centinela.ews.tiers`` (the
same thresholds the early-warning system uses), as information, never legal advice."""

from __future__ import annotations

import re

from centinela.ews.tiers import law, tier_for_mass
from centinela.lib.text import fold_keep_enye as fold

_LEGAL = re.compile(
    r"\b(pena|penas|carcel|prision|anos|años|condena|sentencia|delito|ley|legal|ilegal|detuvieron|"
    r"detenido|detenida|arrestaron|arrestado|capturaron|intervinieron|agarraron|chaparon|"
    r"encontraron|policia|fiscal|juez|penalty|prison|jail|sentence|years|arrested|caught|"
    r"charged|crime|illegal|law|vender|venta|vendo|trafico|traficar|sell|selling|portar|tener|"
    r"llevar|carry|carrying|possession|posesion)\b")
_QTY = re.compile(
    r"(?P<num>\d+(?:[.,]\d+)?|un|una|medio|media|dos|tres|cuatro|cinco|diez|one|half|two|three|"
    r"five|ten)\s*(?:a |an |of )?(?P<unit>mg|miligramos?|milligrams?|mcg|ug|microgramos?|micrograms?|g|gr|"
    r"gramos?|grams?|kg|kilos?)\b")
_WORDS = {"un": 1, "una": 1, "one": 1, "medio": 0.5, "media": 0.5, "half": 0.5, "dos": 2,
          "two": 2, "tres": 3, "three": 3, "cuatro": 4, "cinco": 5, "five": 5, "diez": 10,
          "ten": 10}
_TO_MG = {"mg": 1.0, "milig": 1.0, "milli": 1.0, "mcg": 0.001, "ug": 0.001, "micro": 0.001,
          "g": 1000.0, "gr": 1000.0, "gram": 1000.0, "kg": 1e6, "kilo": 1e6}

LEGAL_AID = {
    "es": "Si hay una detención: tiene derecho a un abogado desde el primer momento; si no puede "
          "pagarlo, la Defensa Pública del MINJUSDH y los centros ALEGRA dan asistencia legal "
          "gratuita.",
    "en": "If someone is detained: they have the right to a lawyer from the first moment; if "
          "they cannot pay, MINJUSDH's Public Defence and the ALEGRA centres give free legal aid.",
}


# An amount in ampoules, pills or patches does not tell the tier: the law counts milligrams.
NO_MASS = {
    "es": "La Ley 32250 gradúa la pena del tráfico de fentanilo según la cantidad en "
          "miligramos que determine el análisis del laboratorio, no según el número de "
          "ampollas, pastillas o parches, y la calificación depende de los hechos (venta o "
          "intención de vender; la posesión para consumo propio e inmediato en pequeña cantidad "
          "se trata distinto). Por eso no es posible decir aquí qué pena correspondería en un "
          "caso concreto: eso lo determinan la fiscalía y el juez, con un abogado defensor.",
    "en": "Law 32250 grades trafficking penalties by the amount of fentanyl in milligrams "
          "measured by the laboratory, not by the number of ampoules, pills or patches, and the "
          "qualification depends on the facts (selling or intent to sell; possession of a "
          "small amount for one's own immediate use is treated differently). So this assistant "
          "cannot say which penalty a specific case would get: prosecutors and the judge decide "
          "that, with a defence lawyer.",
}


def quantity_mg(text: str) -> float | None:
    """Return the first quantity written in ``text`` converted to milligrams (None if none)."""
    m = _QTY.search(fold(text))
    if not m:
        return None
    raw = m.group("num").replace(",", ".")
    value = _WORDS.get(raw)
    if value is None:
        value = float(raw)
    unit = m.group("unit")
    factor = next(f for prefix, f in sorted(_TO_MG.items(), key=lambda kv: -len(kv[0]))
                  if unit.startswith(prefix))
    return value * factor


# Someone caught with drugs ("me agarraron con 3 ampollas", "I was arrested with pills"):
# a legal situation even when no milligrams are written.
_CAUGHT = re.compile(
    r"\b(me |lo |la |los |las |le |nos |les )?(agarraron|agarro|detuvieron|detuvo|arrestaron|"
    r"arresto|capturaron|intervinieron|chaparon|pillaron|cogieron|encontraron con|"
    r"intervenid[oa]|detenid[oa]|arrestad[oa]|capturad[oa]|"
    r"arrested|caught|busted|detained|stopped (me|him|her) with|charged)\b")
_DRUG_UNITS = re.compile(
    r"\b(fentanil\w*|fenta|fentanyl|ampollas?|ampoules?|pastillas?|pills?|parches?|patch(es)?|"
    r"tabletas?|tablets?|frascos?|drogas?|drugs?|opioides?|opioids?|ketes?|sobres?|bolsitas?)\b")
_PRESCRIBED = re.compile(r"\b(receta\w*|recetad[oa]s?|prescri\w*|me lo recetaron)\b")
# What the person asks about: the penalty or what will happen (a count of units says it too);
# "¿qué derechos tiene?" is the legal-aid entry's question.
_CONSEQUENCE = re.compile(
    r"\b(\d+|un|una|dos|tres|cuatro|cinco|diez|one|two|three|five|ten) (ampollas?|ampoules?|"
    r"pastillas?|pills?|parches?|patch(es)?|tabletas?|tablets?|frascos?|ketes?|sobres?|"
    r"bolsitas?)\b|\b(anos|años|pena|penas|carcel|prision|condena|sentencia|que (me|le|nos|les) "
    r"(va a |van a )?pas\w*|que pasa|me dan|le dan|me van a dar|what (happens|will happen)|"
    r"how (many|long)|years|jail|prison|sentence|penalty|time)\b")


def is_legal_situation(text: str) -> bool:
    """Someone caught or arrested with a drug, amount in units or none ("me agarraron con 3
    ampollas, ¿cuántos años me dan?"); a prescribed medicine is another question."""
    folded = fold(text)
    return (bool(_CAUGHT.search(folded)) and bool(_DRUG_UNITS.search(folded))
            and bool(_CONSEQUENCE.search(folded)) and not _PRESCRIBED.search(folded))


def is_legal_quantity_question(text: str) -> bool:
    """A question about penalties for an amount (not about how much to take)."""
    folded = fold(text)
    return quantity_mg(text) is not None and bool(_LEGAL.search(folded))


def tiers_text(lang: str) -> str:
    """The Law 32250 tiers as one sentence, read from the tier table."""
    parts = []
    for t in law()["tiers"]:
        lo, hi = t["min_mg_exclusive"], t["max_mg_inclusive"]
        years = "–".join(str(y) for y in t["penalty_years"])
        if lang == "en":
            span = (f"up to {hi:g} mg" if lo is None else
                    f"more than {lo:g} mg" + (f" up to {hi:g} mg" if hi is not None else ""))
            parts.append(f"{span}: {years} years ({t['label_en'].lower()}, {t['article']})")
        else:
            span = (f"hasta {hi:g} mg" if lo is None else
                    f"más de {lo:g} mg" + (f" y hasta {hi:g} mg" if hi is not None else ""))
            parts.append(f"{span}: {years} años ({t['label_es'].lower()}, {t['article']})")
    head = ("Law 32250 penalties for trafficking fentanyl or its analogues, by quantity: "
            if lang == "en" else
            "Penas de la Ley 32250 por tráfico de fentanilo o sus análogos, según la cantidad: ")
    return head + "; ".join(parts) + "."


def legal_answer(text: str, lang: str) -> str:
    """Answer a penalty-by-quantity question with the tier of the amount written."""
    lang = "en" if lang == "en" else "es"
    mg = quantity_mg(text)
    data = law()
    lines = []
    if mg is not None:
        t = tier_for_mass(mg)
        years = "–".join(str(y) for y in t["penalty_years"])
        if lang == "en":
            lines.append(f"For {mg:g} mg of fentanyl or an analogue, Law 32250 places trafficking "
                         f"in the tier '{t['label_en']}' ({t['article']}): {years} years in "
                         "prison. The qualification depends on the facts (selling, intent, "
                         "purity measured by the lab); possession for own immediate use in small "
                         "amounts is treated differently.")
        else:
            lines.append(f"Para {mg:g} mg de fentanilo o un análogo, la Ley 32250 ubica el "
                         f"tráfico en la «{t['label_es']}» ({t['article']}): {years} años de "
                         "pena privativa de libertad. La calificación depende de los hechos "
                         "(venta, intención, pureza medida por el laboratorio); la posesión para "
                         "consumo propio e inmediato en pequeña cantidad se trata distinto.")
    else:
        lines.append(NO_MASS[lang])
    lines.append(tiers_text(lang))
    lines.append(LEGAL_AID[lang])
    lines.append(data["disclaimer_en"] if lang == "en" else data["disclaimer_es"])
    return " ".join(lines)


LEGAL_SOURCES = [
    {"org": "Congreso de la República / El Peruano", "title": "Ley N.° 32250 (enero de 2025)"},
    {"org": "MINJUSDH", "title": "Defensa Pública y Acceso a la Justicia — ALEGRA"},
]
