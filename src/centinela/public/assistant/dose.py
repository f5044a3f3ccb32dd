"""Detect questions that ask for a dose (how much, how often, which strength) so the assistant
can decline politely: dosing is for the treating professional, never for a chatbot."""

from __future__ import annotations

import re

from centinela.lib.text import fold_keep_enye as fold

_DOSE = tuple(re.compile(p) for p in (
    r"\bdosis\b", r"\bdosage\b", r"\bdose\b", r"\bdosificacion\b", r"\bposologia\b",
    r"\b\d+([.,]\d+)?\s*(mg|mcg|ug|ml|miligramos?|microgramos?|gotas|drops)\b",
    r"\bcuant[oa]s?\b.{0,40}\b(tomo|tomar|me tomo|puedo tomar|debo tomar|dar|doy|le doy|"
    r"pongo|poner|aplico|aplicar|usar|uso|inyect\w*|mg|miligramos|pastillas|gotas|"
    r"es demasiado|es mucho|es seguro|es segura|al dia|por dia|diario|mcg|ug|microgramos?|ml|"
    r"necesito|se necesita|need|parches?)\b",
    r"\bcada cuant[oa]s? (horas|dias)\b", r"\bcon que frecuencia\b",
    r"\bcada cuant[oa]s?\b.{0,40}\b(cambi\w*|tom\w*|pong\w*|pongo|aplic\w*|us[oa]r?|"
    r"inyect\w*|parches?|pastillas?)\b",
    r"\bhow (much|many)\b.{0,40}\b(take|give|use|inject|per day|a day|daily|safe|too much|"
    r"pills|mg|mcg|micrograms?|is too|need|patches)\b",
    r"\bhow often (should|can|do) i\b",
    r"\bpuedo tomar (dos|tres|2|3|mas|otra|doble)\b", r"\bcan i take (two|three|2|3|more|another)\b",
    r"\bdoble (dosis|pastilla)\b", r"\bdouble (dose|up)\b",
))


# Using to get high (the amount is asked for the effect, not for a treatment).
_NONMEDICAL = re.compile(
    r"\b(volar(me|se|te)?|volad[oa]s?|drogar(me|se|te)?|colocar(me|se)|colocad[oa]|"
    r"endrogar(me|se)|(get|getting|be|feel|stay) high|buzz|stoned|peg(ue|a|ar) (mas|mejor|fuerte)|"
    r"que pegue|"
    r"para que pegue|mas (efecto|fuerte|rapido)|sentir (mas|el efecto)|stronger|"
    r"get me high|feel it|chapad[oa]|ficar chapad[oa]|for fun|recreativ\w*|"
    r"recreational(ly)?)\b")
# Naloxone reverses an overdose: "how much naloxone do I give" is an emergency question.
NALOXONE = re.compile(r"\b(naloxon\w*|naloxna|narcan|nalox\w*)\b")


def is_nonmedical(text: str) -> bool:
    """True when a dose is asked for getting high ("cuántos mcg para volarme")."""
    return bool(_NONMEDICAL.search(fold(text)))


def is_naloxone_question(text: str) -> bool:
    """True when ``text`` is about naloxone (its dose is the emergency procedure)."""
    return bool(NALOXONE.search(fold(text)))


def is_dose_question(text: str) -> bool:
    """Return True when ``text`` asks how much, how often or which strength to use."""
    folded = fold(text)
    return any(p.search(folded) for p in _DOSE)
