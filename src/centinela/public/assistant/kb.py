"""The curated knowledge base shipped in ``public/data/kb/*.json`` (Spanish first, English,
key safety messages in Quechua pending certified translation review)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from centinela.public.assistant.polarity import BARE_LEAD, YesNo

KB_LANGS = ("es", "en", "qu")
REQUIRED = ("id", "topic", "title", "answer", "sources")


class KBError(ValueError):
    """A knowledge-base file that breaks the entry schema."""


@dataclass(frozen=True)
class Entry:
    id: str
    topic: str
    title: dict[str, str]
    answer: dict[str, str]
    sources: tuple[dict[str, str], ...]
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    questions: tuple[str, ...] = ()
    quechua_review: str | None = None
    yes_no: YesNo | None = None  # the claim behind a yes/no lead (see ``polarity``)
    quechua_note: str | None = None  # who wrote the Quechua text, and that it is unreviewed

    def text(self, lang: str) -> str:
        """Return the answer in ``lang``, falling back to Spanish."""
        return self.answer.get(lang) or self.answer["es"]

    def head_text(self) -> str:
        """Return the words that say what the entry is about (titles, keywords, questions)."""
        kws = " ".join(" ".join(v) for v in self.keywords.values())
        return " ".join([*self.title.values(), kws, *self.questions])

    def index_text(self) -> str:
        """Return every searchable word of the entry (all languages)."""
        return " ".join([self.head_text(), *self.answer.values()])


def _entry(raw: dict, where: str) -> Entry:
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise KBError(f"{where}: entry {raw.get('id', '?')!r} lacks {', '.join(missing)}")
    if "es" not in raw["answer"] or "en" not in raw["answer"]:
        raise KBError(f"{where}: entry {raw['id']!r} needs Spanish and English answers")
    if "qu" in raw["answer"] and raw.get("quechua_review") != "pending" and not raw.get(
        "quechua_reviewed_by"
    ):
        raise KBError(f"{where}: entry {raw['id']!r} has Quechua text without review status")
    if not raw["sources"] or any(not s.get("org") or not s.get("title") for s in raw["sources"]):
        raise KBError(f"{where}: entry {raw['id']!r} must cite organization and document title")
    # A stored "No." is said to "¿es legal …?" and "¿es delito …?" alike: the yes/no is
    # chosen per question from the entry's ``yes_no`` claim instead.
    bare = [lang for lang, text in raw["answer"].items() if BARE_LEAD.match(text)]
    if bare:
        raise KBError(f"{where}: entry {raw['id']!r} opens with a bare yes/no ({', '.join(bare)});"
                      " state the claim in 'yes_no' and start the answer with its reason")
    try:
        yes_no = YesNo.parse(raw["yes_no"], f"{where}: entry {raw['id']!r}") if raw.get(
            "yes_no") else None
    except ValueError as exc:
        raise KBError(str(exc)) from exc
    return Entry(
        id=raw["id"], topic=raw["topic"], title=dict(raw["title"]), answer=dict(raw["answer"]),
        sources=tuple(dict(s) for s in raw["sources"]),
        keywords={k: tuple(v) for k, v in raw.get("keywords", {}).items()},
        questions=tuple(q for qs in raw.get("questions", {}).values() for q in qs),
        quechua_review=raw.get("quechua_review"), yes_no=yes_no,
        quechua_note=raw.get("quechua_note"),
    )


@lru_cache(maxsize=1)
def entries() -> tuple[Entry, ...]:
    """Load and validate every KB entry (ids unique)."""
    folder = resources.files("centinela") / "public" / "data" / "kb"
    out: list[Entry] = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".json"):
            continue
        for raw in json.loads(item.read_text(encoding="utf-8")):
            out.append(_entry(raw, item.name))
    ids = [e.id for e in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise KBError(f"duplicate KB ids: {sorted(dupes)}")
    return tuple(out)


def by_id(entry_id: str) -> Entry:
    """Return the entry with ``entry_id`` (KeyError if unknown)."""
    for e in entries():
        if e.id == entry_id:
            return e
    raise KeyError(entry_id)
