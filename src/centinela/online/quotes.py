"""Quoted speech: what a post quotes (someone else's words) and what its author writes around it.

A warning often pastes the dealer's ad ("me llegó esto: 'vendo fenta 50 soles, yapea'… no le
compren"); the seller's words inside the quote are not the author's. The decision
(``online.decide``) reads the quote and its frame apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from centinela.lib.text import fold
from centinela.lib.text import normalize as clean_text
from centinela.online.lexicon import Lexicon

# "…", “…”, «…», ‘…’, '…' (not an apostrophe: "pa' los conocedores"), >> … <<
_QUOTE_MARKS = re.compile(r'"([^"\n]+)"|“([^”\n]+)”|«([^»\n]+)»|‘([^’\n]+)’'
                          r"|(?<!\w)'([^'\n]+)'(?!\w)|>>+([^<\n]+)<<+")
# a clause, a colon and what follows on the same line ("le escribieron a mi sobrina: …")
_COLON_SPEECH = re.compile(r"([^.!?\n:]{3,80}):[ \t]*([^\n]+)")
_MARKS = frozenset("\"“«‘'>:")


class Quotes(NamedTuple):
    """The folded views of a text's quoted speech and of the rest (its frame)."""

    quoted: str = ""
    frame: str = ""
    marked: bool = False  # between quotation marks (else: after a reporting clause and a colon)


NO_QUOTES = Quotes()


def quoted_speech(raw: str, lex: Lexicon, reports: Callable[[str], object]) -> Quotes:
    """Split ``raw`` into quoted speech and frame, or return ``NO_QUOTES``.

    Quoted speech is text between quotation marks (two words or more) or, in a text without
    them, what follows a colon on the same line after a clause that ``reports`` someone else's
    message (``reports(folded clause)`` truthy: "me llegó este mensaje:", "le escribieron:").
    """
    if _MARKS.isdisjoint(raw):
        return NO_QUOTES

    def view(s: str) -> str:
        return lex.join_spelled(fold(clean_text(s)))

    spans = [m.span(next(i for i, g in enumerate(m.groups(), 1) if g is not None))
             for m in _QUOTE_MARKS.finditer(raw)]
    spans = [(a, b) for a, b in spans if len(raw[a:b].split()) >= 2]
    marked = bool(spans)
    if not marked:
        spans = [m.span(2) for m in _COLON_SPEECH.finditer(raw)
                 if len(m.group(2).split()) >= 2 and reports(view(m.group(1)))]
    if not spans:
        return NO_QUOTES
    frame, last = [], 0
    for a, b in spans:
        frame.append(raw[last:a])
        last = b
    frame.append(raw[last:])
    return Quotes(" | ".join(view(raw[a:b]) for a, b in spans), view(" … ".join(frame)), marked)
