"""Question types ("what is", "what to do", "how do I tell", "where") read from the wording.

Content words say what a question is about; these cues say what the user wants to know about it,
which separates entries on the same subject (naloxone vs where to get naloxone)."""

from __future__ import annotations

import re

from centinela.lib.text import fold_keep_enye as fold

_PATTERNS: dict[str, tuple[str, ...]] = {
    "define": (r"^(que|q|ke) (es|son)\b", r"\bwhat (is|are)\b", r"\bque significa\b",
               r"\bdefinicion\b", r"\bexplica", r"\bque (clase|tipo) de (sustancia|droga)\b"),
    "purpose": (r"\bpara (que|q) (sirve|sirven|usan|se usa|es)\b", r"\bused for\b",
                r"\bwhat does .+ do\b", r"\bsirve\b", r"\bfunciona"),
    "signs": (r"\bcomo (se|saber|sabes|reconozco|reconocer|identifico|identificar|detectar|"
              r"me doy cuenta|darme cuenta)\b", r"\b(sintomas?|signos?|senales?|señales?)\b",
              r"\bhow (can|do|would) (i|you|we) (tell|know|recogni[sz]e|spot)\b",
              r"\b(signs?|symptoms?)\b", r"\bcomo se ve\b", r"\blooks? like\b"),
    "action": (r"\b(que|q) (hago|hacer|debo hacer|puedo hacer|se hace|se debe hacer)\b",
               r"\bcomo (ayudo|ayudar|actuo|actuar|apoyo|apoyar)\b",
               r"\bwhat (should|do|can|must) (i|we|you) do\b", r"\bwhat to do\b",
               r"\bhow (to|do i|can i|should i) (help|support|respond)\b",
               r"\bprimeros auxilios\b", r"\bfirst aid\b"),
    "where": (r"\bdonde\b", r"\bwhere\b", r"\ba quien\b", r"\bwho (can|do|should)\b",
              r"\b(consigo|conseguir|compro|comprar)\b"),
    "legal": (r"\b(legal|ilegal|delito|pena|carcel|ley|allowed|crime|illegal|law|permitido|"
              r"prohibido|sancion)\b",),
    "why": (r"\b(por que|porque|xq|pq|why)\b",),
    "how": (r"\bcomo (se usa|usar|uso|tomar|tomo|guardo|guardar|aplico|aplicar|desecho|"
            r"elimino|hago)\b", r"\bhow (to|do i|should i) (use|take|store|apply|dispose)\b"),
}
_COMPILED = {k: tuple(re.compile(p) for p in v) for k, v in _PATTERNS.items()}


def intents(text: str) -> frozenset[str]:
    """Return the question types that ``text`` expresses (possibly none)."""
    folded = fold(text).replace("¿", "").replace("?", "")
    return frozenset(k for k, pats in _COMPILED.items() if any(p.search(folded) for p in pats))
