"""The lexicon layer: curated terms by category, matched on folded and de-leeted text."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from centinela.lib.text import deleet, fold, squeeze_repeats

CATEGORIES = (
    "fentanyl", "other_opioid", "form", "sale", "payment", "code_emoji", "other_drug", "news",
    "harm_reduction", "medical", "legit_pharmacy", "job", "request",
)


@dataclass
class LexiconHits:
    """Lexicon matches of one text: category → matched terms (as written in the lexicon)."""

    by_category: dict[str, list[str]] = field(default_factory=dict)
    substances: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)  # drug-name terms found only by misspelling

    def count(self, category: str) -> int:
        return len(self.by_category.get(category, ()))

    @property
    def opioid(self) -> bool:
        return bool(self.count("fentanyl") or self.count("other_opioid"))

    def keyword_offer(self) -> bool:
        """Keyword-only baseline: an opioid term together with a sale or payment term."""
        return self.opioid and bool(self.count("sale") or self.count("payment"))

    def as_dict(self) -> dict:
        return {"terms": self.by_category, "substances": self.substances}


def _pattern(term: str) -> tuple[str, bool]:
    """Return (regex, needs word boundaries) of a lexicon term."""
    if term.startswith("re:"):
        return term[3:], False
    body = r"[\s\-_.]*".join(re.escape(part) for part in fold(term).split(" "))
    return body, re.match(r"\w", term[0]) is not None  # emoji and symbols: no boundary


@dataclass(frozen=True)
class Lexicon:
    """Compiled lexicon: one alternation per category, plus the term → substance map."""

    data: dict
    sha256: str
    compiled: dict[str, re.Pattern[str]]
    substances: dict[tuple[str, str], str]
    combined: re.Pattern[str]
    # zero-width matches at every position where some term could start (see ``_candidates``)
    candidates: re.Pattern[str] = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    # first character of a match → the combined regex restricted to the terms that can start with
    # it (same order, so the same matches as ``combined``); filled lazily by ``_at``
    _by_first: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)

    def _at(self, ch: str) -> re.Pattern[str]:
        rx = self._by_first.get(ch)
        if rx is None:
            rx = self._by_first[ch] = _combine(self.data, ch)
        return rx

    def finditer(self, folded: str) -> list[tuple[str, str]]:
        """(category, matched text) of ``combined.finditer(folded)``, several times faster.

        Only positions where a term could start are tried (a word start whose word begins like
        a word-bounded term, or a character a regex, emoji or symbol term can begin with; see
        ``_candidates``), each with the alternation of the terms that begin with that character.
        """
        out = []
        end = 0
        by_first = self._by_first
        for c in (self.candidates or _CANDIDATE).finditer(folded):
            s = c.start()
            if s < end:
                continue
            ch = folded[s]
            rx = by_first.get(ch) or self._at(ch)
            m = rx.match(folded, s)
            if m is not None:
                out.append((m.lastgroup or "", m.group(0)))
                end = m.end()
        return out

    def match(self, text: str) -> LexiconHits:
        """Return the lexicon hits of ``text`` (raw text; folding happens here)."""
        return self.match_folded(self.join_spelled(fold(text)))

    def join_spelled(self, folded: str) -> str:
        """``join_spelled`` with this lexicon's drug names deciding where a spelled word ends."""
        return join_spelled(folded, self._names_drug)

    def _names_drug(self, word: str) -> bool:
        """Whether ``word`` alone is an opioid name of the lexicon (not a misspelling guess)."""
        hits = self.match_folded(word)
        return any(t not in hits.fuzzy for c in ("fentanyl", "other_opioid")
                   for t in hits.by_category.get(c, ()))

    def match_folded(self, folded: str, deleeted: str | None = None) -> LexiconHits:
        """Return the lexicon hits of already folded text (see ``text.fold``).

        ``deleeted`` is ``deleet(folded)`` when the caller has it already.
        """
        d = deleet(folded) if deleeted is None else deleeted
        variants = (folded,) if folded == d else (folded, d)
        hits = LexiconHits()
        subs: list[str] = []
        found = hits.by_category
        seen: set[tuple[str, str]] = set()
        for v in variants:
            for cat, raw in self.finditer(v):
                term = raw.strip()
                terms = found.setdefault(cat, [])
                if (cat, term) in seen or term in terms:
                    continue
                seen.add((cat, term))
                if term[-1:].isdigit() and cat not in ("fentanyl", "other_opioid"):
                    # A pattern that stops at a number's first digit ("s/ 5" of "s/ 500"): the
                    # hit shows the number as written. The count is unchanged (one per match
                    # as before: the model's features do not move).
                    whole = re.search(re.escape(term) + r"[\d.,]*\d", v)
                    term = whole.group(0) if whole else term
                terms.append(term)
                if cat in ("fentanyl", "other_opioid"):
                    default = "fentanyl" if cat == "fentanyl" else "opioid"
                    s = self.substances.get((cat, _squeeze(term)), default)
                    if s not in subs:
                        subs.append(s)
        for v in variants:
            for tok in _WORD.findall(v):
                fuzzy = _fuzzy_drug(tok)
                if fuzzy is None:
                    continue
                cat, anchor, sub = fuzzy
                terms = found.setdefault(cat, [])
                if anchor not in terms and tok not in terms:
                    terms.append(tok)
                    hits.fuzzy.append(tok)
                    if sub not in subs:
                        subs.append(sub)
        hits.substances = subs
        return hits


_SINGLE = r"[a-z0-9@$]"
# A word spelled out letter by letter: single characters apart from each other by the same
# separator throughout — spaces, dots, hyphens or underscores ("f e n t a", "f.e.n.t.a.n.i.l",
# "f-e-n-t", "f_e_n_t_a"; emoji between letters are already moved out by the normalization,
# leaving spaces). One separator per run, so "p.m s.a.c" is two runs, not one.
_SPELLED = re.compile(rf"(?<![\w@$]){_SINGLE}(?P<sep>[\s.\-_]{{1,3}}){_SINGLE}(?![\w@$])"
                      rf"(?:(?P=sep){_SINGLE}(?![\w@$]))+")
# one-letter Spanish/English words that may follow a spelled word ("f e n t a y tusi")
_ONE_LETTER_WORDS = frozenset("yoeua")


def join_spelled(folded: str, is_drug=None) -> str:
    """Join words spelled out letter by letter in folded text ("f e n t a" → "fenta").

    A run joins when it holds at least three letters, and at least four characters when they
    are apart by plain spaces ("a y o", "vitamina b y c" stay as they are; "f 3 n t 4" joins);
    a spaced phone number ("9 8 7 1 2 3") has no letters and stays; leet digits inside a
    spelled word are kept for ``deleet``. When a
    space-separated run ends with a one-letter word (y, o, e, u, a) and ``is_drug`` says the run
    without it is a drug name while the whole run is not, that word stays apart
    ("f e n t a y tusi" → "fenta y tusi").
    """
    if is_drug is not None and _MIXED.search(folded):
        folded = _MIXED.sub(lambda m: _join_mixed(m, is_drug), folded)
    if not _SPELLED.search(folded):
        return folded

    def repl(m: re.Match[str]) -> str:
        sep = m.group("sep")
        chars = m.group(0).split(sep)
        if sum(c.isalpha() for c in chars) < 3 or (sep.isspace() and len(chars) < 4):
            return m.group(0)
        whole = "".join(chars)
        if (is_drug is not None and sep.isspace() and len(chars) > 4
                and chars[-1] in _ONE_LETTER_WORDS and not is_drug(whole) and is_drug(whole[:-1])):
            return f"{whole[:-1]} {chars[-1]}"
        return whole

    return _SPELLED.sub(repl, folded)


# A drug name spelled with mixed separators, in pieces of one or two characters ("f.e n-t a",
# "fe-n t.a"): joined only when the pieces make a drug name (``is_drug``), so abbreviations
# such as "p.m s.a.c" stay as written.
_MIXED = re.compile(rf"(?<![\w@$]){_SINGLE}{{1,2}}(?:[\s.\-_*]{{1,3}}{_SINGLE}{{1,2}}(?![\w@$])){{2,}}")


def _join_mixed(m: re.Match[str], is_drug) -> str:
    pieces = re.split(r"[\s.\-_*]+", m.group(0))
    whole = "".join(pieces)
    if sum(c.isalpha() for c in whole) >= 4 and is_drug(whole):
        return whole
    # The run may carry one short word after the name ("f.e n-t a y"): try without it.
    if len(pieces) > 3 and is_drug("".join(pieces[:-1])):
        return "".join(pieces[:-1]) + " " + pieces[-1]
    return m.group(0)


_WORD = re.compile(r"[a-z]{5,14}")
# Where a lexicon match can start: a word start, a digit, or a symbol/emoji (see ``finditer``).
_CANDIDATE = re.compile(r"(?<!\w)\w|\d|[^\w\s]")
# Misspelling tolerance for drug names the regexes missed (edit-distance-like ratio).
FUZZY_ANCHORS = {
    "fentanilo": ("fentanyl", "fentanyl"), "fentanyl": ("fentanyl", "fentanyl"),
    "fentanil": ("fentanyl", "fentanyl"), "fentanylo": ("fentanyl", "fentanyl"),
    "fentas": ("fentanyl", "fentanyl"), "fentita": ("fentanyl", "fentanyl"),
    "carfentanil": ("fentanyl", "fentanyl"), "durogesic": ("fentanyl", "fentanyl"),
    "tramadol": ("other_opioid", "tramadol"), "oxicodona": ("other_opioid", "oxycodone"),
    "oxycodone": ("other_opioid", "oxycodone"), "morfina": ("other_opioid", "morphine"),
    "metadona": ("other_opioid", "methadone"), "petidina": ("other_opioid", "pethidine"),
    "meperidina": ("other_opioid", "pethidine"), "hidromorfona": ("other_opioid", "hydromorphone"),
    "percocet": ("other_opioid", "oxycodone"), "oxycontin": ("other_opioid", "oxycodone"),
    "heroina": ("other_opioid", "heroin"), "codeina": ("other_opioid", "codeine"),
    "remifentanilo": ("other_opioid", "remifentanil"), "dilaudid": ("other_opioid", "hydromorphone"),
    "morphine": ("other_opioid", "morphine"), "heroin": ("other_opioid", "heroin"),
    "methadone": ("other_opioid", "methadone"), "codeine": ("other_opioid", "codeine"),
    "roxies": ("other_opioid", "oxycodone"), "apache": ("fentanyl", "fentanyl"),
    "apaches": ("fentanyl", "fentanyl"),
}
_NOT_DRUGS = frozenset({"fenomeno", "fenomenal", "metadata", "morfologia", "pentagono", "fenton",
                        "ferretera", "fantastico", "tramite", "tramites", "tramado",
                        "meridia", "heroes", "heroic", "morfeo", "metadatos", "codigos"})


_ANCHOR_INDEX: dict[str, list[tuple[str, str, str, str]]] = {}
for _a, (_c, _s) in FUZZY_ANCHORS.items():
    _ANCHOR_INDEX.setdefault(_a[:1], []).append((_a, squeeze_repeats(_a), _c, _s))


@lru_cache(maxsize=65536)
def _fuzzy_drug(token: str) -> tuple[str, str, str] | None:
    """Return (category, anchor, substance) when ``token`` looks like a misspelled drug name."""
    if token in _NOT_DRUGS or token in FUZZY_ANCHORS:
        return None
    squeezed = squeeze_repeats(token)
    for anchor, sq_anchor, cat, sub in _ANCHOR_INDEX.get(token[:1], ()):
        if abs(len(anchor) - len(token)) > 3:
            continue
        if squeezed == sq_anchor:
            return cat, anchor, sub
        sm = difflib.SequenceMatcher(None, squeezed, anchor)
        if sm.real_quick_ratio() >= 0.8 and sm.quick_ratio() >= 0.8 and sm.ratio() >= 0.8:
            return cat, anchor, sub
    return None


def _squeeze(term: str) -> str:
    return re.sub(r"[\s\-_.]+", " ", term).strip()


def _terms(cat: dict) -> list[tuple[str, str | None]]:
    out = []
    for item in cat["terms"]:
        if isinstance(item, str):
            out.append((item, cat.get("substance")))
        else:
            out.append((item["term"], item.get("substance", cat.get("substance"))))
    return out


def _sources(data: dict, first: str | None = None) -> dict[str, str]:
    """Category → regex source; with ``first``, only the terms a match starting with it can use.

    Literal terms are kept when their folded form begins with ``first``; ``re:`` terms are
    always kept. The relative order of what is kept is the
    order of the full alternation, so a match at a position starting with ``first`` is the same.
    """
    out = {}
    for name, cat in data["categories"].items():
        words, others = [], []
        for term, _ in _terms(cat):
            pat, bounded = _pattern(term)
            if first is not None and not term.startswith("re:"):
                head = fold(term)[:1]
                if head and head != first:
                    continue  # a literal match begins with the term's own first character
            (words if bounded else others).append(pat)
        parts = []
        if words:
            alt = "|".join(sorted(words, key=len, reverse=True))
            parts.append(rf"(?<!\w)(?:{alt})(?!\w)")
        if others:
            parts.append("|".join(f"(?:{p})" for p in sorted(others, key=len, reverse=True)))
        if parts:
            out[name] = "|".join(parts)
    return out


def _first_chars(items: list) -> tuple[list[str] | None, bool]:
    """Character-class parts a parsed regex's first character can match, and whether it can be
    empty; ``None`` when unsure (the caller then tries every position)."""
    from re import _constants as C  # noqa: N812

    parts: list[str] = []
    for op, av in items:
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # zero width
        if op is C.LITERAL:
            return parts + [re.escape(chr(av))], False
        if op is C.IN:
            cls = {C.CATEGORY_DIGIT: r"\d", C.CATEGORY_WORD: r"\w", C.CATEGORY_SPACE: r"\s"}
            for kind, val in av:
                if kind is C.LITERAL:
                    parts.append(re.escape(chr(val)))
                elif kind is C.RANGE:
                    parts.append(f"{re.escape(chr(val[0]))}-{re.escape(chr(val[1]))}")
                elif kind is C.CATEGORY and val in cls:
                    parts.append(cls[val])
                else:
                    return None, False
            return parts, False
        if op is C.SUBPATTERN:
            if av[1] or av[2]:
                return None, False  # inline flags
            sub, empty = _first_chars(list(av[3]))
        elif op is C.BRANCH:
            sub, empty = [], False
            for alt in av[1]:
                got, e = _first_chars(list(alt))
                if got is None:
                    return None, False
                sub, empty = sub + got, empty or e
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            sub, empty = _first_chars(list(av[2]))
            empty = empty or av[0] == 0
        else:
            return None, False
        if sub is None:
            return None, False
        parts += sub
        if not empty:
            return parts, False
    return parts, True


def _literal_prefix(items: list, most: int = 3) -> str:
    """The literal characters a parsed regex must begin with (after zero-width assertions)."""
    from re import _constants as C  # noqa: N812

    out = ""
    for op, av in items:
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT) and not out:
            continue
        if op is not C.LITERAL or len(out) >= most:
            break
        out += chr(av)
    return out


def _word_bounded(items: list) -> bool:
    """Whether a parsed regex begins with ``\\b`` or ``(?<!\\w)``."""
    from re import _constants as C  # noqa: N812

    if not items:
        return False
    op, av = items[0]
    if op is C.AT:
        return av is C.AT_BOUNDARY
    if op is C.ASSERT_NOT and av[0] == -1:
        body = list(av[1])
        return body == [(C.IN, [(C.CATEGORY, C.CATEGORY_WORD)])] or \
            body == [(C.CATEGORY, C.CATEGORY_WORD)]
    return False


def _trie(words: set[str]) -> str:
    """Regex matching any of ``words`` as a prefix, factored by leading character (fast in re)."""
    if "" in words:
        return ""
    by_head: dict[str, set[str]] = {}
    for w in words:
        by_head.setdefault(w[0], set()).add(w[1:])
    alts = []
    for head in sorted(by_head):
        rest = _trie(by_head[head])
        alts.append(re.escape(head) + (f"(?:{rest})" if "|" in rest else rest))
    if len(alts) == 1:
        return alts[0]
    singles = [a for a in alts if len(a) == 1 or (len(a) == 2 and a[0] == "\\")]
    multi = [a for a in alts if a not in singles]
    if len(singles) > 1:
        multi.append(f"[{''.join(singles)}]")
    else:
        multi += singles
    return "|".join(multi)


def _candidates(data: dict) -> re.Pattern[str] | None:
    """Zero-width regex at each position where some lexicon term could start a match.

    Word-bounded literal terms need a non-word character before them and the text to begin
    like the term (its first 3 characters; for a shorter first word, that word, a separator
    and the next word's first letter: necessary conditions); word-bounded ``re:`` terms need
    their literal prefix; other ``re:`` terms, emoji and symbols a character of their
    first-character class.
    ``None`` when a ``re:`` term's first character cannot be worked out.
    """
    from re import _parser

    heads: set[str] = set()
    pieces: set[str] = set()
    chars: list[str] = []
    for cat in data["categories"].values():
        for term, _ in _terms(cat):
            if term.startswith("re:"):
                items = list(_parser.parse(term[3:]).data)
                got, empty = _first_chars(items)
                if got is None or empty:
                    return None
                if _word_bounded(items) and all(re.fullmatch(r"[a-z]", g) for g in got):
                    # \b or (?<!\w) before a letter: a word start, then its literal prefix
                    prefix = _literal_prefix(items)
                    heads.update([prefix] if prefix else got)
                else:
                    chars += got
                continue
            pat, bounded = _pattern(term)
            folded = fold(term)
            if not folded or not folded[0].strip():
                return None
            if not bounded:
                chars.append(re.escape(folded[0]))
                continue
            words = folded.split(" ")
            if len(words[0]) >= 3 or len(words) == 1:
                heads.add(words[0][:3])
            else:  # short first word: also require the separator and the next word's start
                pieces.add(re.escape(words[0]) + r"[\s\-_.]*" + re.escape(words[1][:1]))
    alts = ([_trie(heads)] if heads else []) + sorted(pieces)
    parts = [f"(?<!\\w)(?={'|'.join(alts)})"] if alts else []
    if chars:
        parts.append(f"(?=[{''.join(sorted(set(chars)))}])")
    return re.compile("|".join(parts) or r"(?!)")


def _compile(data: dict) -> dict[str, re.Pattern[str]]:
    return {name: re.compile(src) for name, src in _sources(data).items()}


def _combine(data: dict, first: str | None = None) -> re.Pattern[str]:
    """One regex with a named group per category: one pass over the text (see ``_sources``)."""
    groups = [f"(?P<{name}>{src})" for name, src in _sources(data, first).items()]
    return re.compile("|".join(groups) or r"(?!)")


def _substance_map(data: dict) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for name, cat in data["categories"].items():
        for term, sub in _terms(cat):
            if sub and not term.startswith("re:"):
                out[(name, _squeeze(fold(term)))] = sub
    return out


# EWS registry categories → online lexicon category (precursors and non-opioids are not offers)
_REGISTRY_CATEGORY = {"fentanyl": "fentanyl", "listed_fentanyl_analogue": "fentanyl",
                      "nitazene": "fentanyl", "brorphine_like": "other_opioid",
                      "u_series": "other_opioid", "other_opioid": "other_opioid"}
# registry synonyms too short or too common to count as a drug name in free text
_REGISTRY_SKIP = frozenset({"iso", "pyro", "pink", "pinky", "u4", "u-4", "h", "brown", "caballo",
                            "blanca", "oxy", "m30", "blues", "fenty", "apache"})


def registry_terms() -> dict[str, list[dict]]:
    """Opioid names and synonyms of the EWS substance registry, as lexicon terms by category.

    Read as plain JSON (no RDKit), so the online lexicon and the EWS registry share one list of
    names: a substance added there is matched here, mapped to the registry id for EWS signals.
    Street names stay in ``lexicon.json`` (they are ambiguous and curated per context there).
    """
    try:
        raw = (resources.files("centinela.ews") / "data" / "substances.json").read_bytes()
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
    out: dict[str, list[dict]] = {}
    for item in json.loads(raw).get("substances", []):
        cat = _REGISTRY_CATEGORY.get(item.get("category", ""))
        if cat is None:
            continue
        names = [item.get("name", ""), item.get("name_es", ""), *item.get("synonyms", [])]
        for name in names:
            f = fold(name)
            if len(f) < 4 or f in _REGISTRY_SKIP or not re.search(r"[a-z]{3}", f):
                continue
            out.setdefault(cat, []).append({"term": f, "substance": item["id"]})
    return out


@lru_cache(maxsize=1)
def registry_names_es() -> dict[str, str]:
    """EWS registry id → Spanish name (for alert summaries of substances the registry knows)."""
    try:
        raw = (resources.files("centinela.ews") / "data" / "substances.json").read_bytes()
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
    return {i["id"]: i.get("name_es") or i["name"] for i in json.loads(raw).get("substances", [])}


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Load the shipped lexicon (``online/data/lexicon.json``) joined with the EWS registry names."""
    raw = (resources.files("centinela.online") / "data" / "lexicon.json").read_bytes()
    data = json.loads(raw)
    shared = registry_terms()
    for cat, terms in shared.items():
        ids = {t["term"]: t["substance"] for t in terms}
        own = data["categories"][cat]["terms"]
        for i, t in enumerate(own):  # the registry id wins for a name both lists hold
            term = t if isinstance(t, str) else t["term"]
            if fold(term) in ids:
                own[i] = {"term": term, "substance": ids[fold(term)]}
        have = {fold(t if isinstance(t, str) else t["term"]) for t in own}
        own += [t for t in terms if t["term"] not in have]
    # the hash covers what the model's features depend on (categories and shared names), so
    # editing the decision rules does not invalidate a trained model
    raw = json.dumps([data["categories"], shared], sort_keys=True, ensure_ascii=False).encode()
    unknown = set(data["categories"]) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"lexicon.json: unknown categories {sorted(unknown)}")
    return Lexicon(data=data, sha256=hashlib.sha256(raw).hexdigest(), compiled=_compile(data),
                   substances=_substance_map(data), combined=_combine(data),
                   candidates=_candidates(data))
