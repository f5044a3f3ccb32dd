"""Build the labeled, fully synthetic training corpus (``online/data/corpus.jsonl``).

Procedure (deterministic, fixed seed):

1. Each family in ``corpus_templates.FAMILIES`` has a label (1 = offer to sell fentanyl or
   another opioid, 0 = anything else), a category and a language (es, en, mix).
2. Within a family, template positions 3, 7, 11, … form the test split and positions 1, 5,
   9, … the validation split; the rest are train. Banks listed in ``corpus_banks.SPLIT_BANKS``
   are cut the same way by item position, and each split draws only its own items. A test post
   therefore shares neither its template nor its drug name, slang, offer, delivery, payment or
   contact phrasing with any train or validation post (places, prices, phones and emoji are
   shared). Validation (same construction) picks hyper-parameters and calibrates the
   probability; the shipped model is then refit on train + validation.
3. A template is filled slot by slot (nested slots allowed), then noised: misspellings and
   leetspeak of drug names, chat abbreviations (q, x, pa, tb), dropped accents and
   punctuation, casing, extra emoji. Texts are de-duplicated case-insensitively.
4. Hard negatives share the positives' vocabulary on purpose: seizure news (Piura, Tumbes,
   Zarumilla…), harm-reduction advice, legitimate pharmacy ads with delivery and Yape, offers
   of other drugs with the same sale language, anaesthesia and palliative-care talk, job posts,
   requests to buy, and unrelated sales.
5. Families are only ever appended (``FAMILIES += [...]`` in ``corpus_templates``), with new
   banks: one random generator runs through the families in order, so appending leaves every
   earlier row (text, id, template, split) unchanged. Extending an existing bank or template
   list would reshuffle the rows drawn from it.

Nothing is taken from real posts; the held-out figures measure generalization to new
phrasings of the same synthetic world, not performance on real traffic.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from centinela.online import corpus_banks as B
from centinela.online.corpus_templates import FAMILIES

SEED = 20250614
TARGETS = {  # examples per family (before de-duplication)
    "offer_fent_es": 700, "offer_patch_es": 140, "offer_slang_es": 200, "offer_fent_en": 320,
    "offer_darknet": 180, "offer_spanglish": 160, "offer_opioid_es": 260, "offer_opioid_en": 160,
    "news_es": 380, "news_en": 140, "harm_es": 200, "harm_en": 120, "pharmacy_es": 330,
    "pharmacy_en": 80, "other_drug_es": 330, "other_drug_en": 140, "medical_es": 220,
    "medical_en": 70, "job_es": 140, "job_en": 40, "request_es": 120, "request_en": 50,
    "unrelated_es": 260, "unrelated_en": 90, "education": 160, "harm_sale": 140,
    # appended families (menus, coded hospital ampoules and their counterparts)
    "menu_opioid_es": 320, "menu_opioid_en": 160, "coded_amp_es": 240, "coded_amp_en": 100,
    "menu_other_es": 140, "menu_other_en": 60, "amp_legit_es": 120, "amp_news_es": 60,
    "course_es": 140, "course_en": 30, "recovery_es": 60, "recovery_en": 30,
    "patient_meds_es": 60, "patient_meds_en": 20, "pharmacy_rx_es": 80, "pharmacy_rx_en": 20,
    "seized_list_es": 70, "seized_list_en": 20, "rx_sale_es": 200, "rx_sale_en": 100,
    "terse_list_es": 240, "terse_list_en": 140,
    # appended families (coded fentanyl patches, non-opioid patches)
    "coded_patch_es": 120, "patch_legit_es": 100,
}
SLOT_BANKS = {
    "fent_es": "FENT_ES", "fent_en": "FENT_EN", "slang_en": "SLANG_EN", "slang_es": "SLANG_ES",
    "opioid_es": "OPIOID_ES", "opioid_en": "OPIOID_EN", "form": "FORM_ES", "strength": "STRENGTH",
    "qty": "QTY", "offer_es": "OFFER_ES", "offer_en": "OFFER_EN", "tail_es": "SALE_TAIL_ES",
    "tail_en": "SALE_TAIL_EN", "deliv_es": "DELIVERY_ES", "deliv_en": "DELIVERY_EN",
    "pay_es": "PAY_ES", "pay_en": "PAY_EN", "contact_es": "CONTACT_ES", "contact_en": "CONTACT_EN",
    "greet_es": "GREET_ES", "greet_en": "GREET_EN", "e": "EMOJI_POS", "en": "EMOJI_NEG",
    "price_es": "PRICE_ES", "price_en": "PRICE_EN", "other_es": "OTHER_DRUG_ES",
    "other_en": "OTHER_DRUG_EN", "legit": "LEGIT_DRUG", "agency": "AGENCY",
    "news_place": "NEWS_PLACE", "place": "PLACES", "city": "US_CITY", "user": "USERS",
    "mop_es": "MENU_OPIOID_ES", "mop_en": "MENU_OPIOID_EN", "mot_es": "MENU_OTHER_ES",
    "mot_en": "MENU_OTHER_EN", "camp_es": "CODED_AMP_ES", "camp_en": "CODED_AMP_EN", "wink": "WINK_ES",
    "amp_legit": "AMP_LEGIT", "rx_es": "RX_OPIOID_ES", "rx_en": "RX_OPIOID_EN",
    "course_es": "COURSE_ES", "course_en": "COURSE_EN", "fee_es": "FEE_ES", "amp_ml": "AMP_ML",
    "pdim": "PATCH_DIM_ES", "phint": "PATCH_HINT_ES", "pdose": "PATCH_DOSE_ES",
    "lpatch": "LEGIT_PATCH_ES", "ldose": "LEGIT_PATCH_DOSE",
}
DRUG_SLOTS = {"fent_es", "fent_en", "slang_en", "slang_es", "opioid_es", "opioid_en", "other_es", "other_en",
              "mop_es", "mop_en", "mot_es", "mot_en", "rx_es", "rx_en"}
_SLOT = re.compile(r"\{(\w+)\}")
_ABBREV = [(r"\bque\b", "q"), (r"\bpor\b", "x"), (r"\bpara\b", "pa"), (r"\btambién\b", "tb"),
           (r"\bprecio\b", "prec"), (r"\bwhatsapp\b", "wsp"), (r"\bescríbeme\b", "escribeme"),
           (r"\bplease\b", "pls"), (r"\bfor\b", "4"), (r"\byou\b", "u")]
_LEET = str.maketrans({"e": "3", "a": "4", "i": "1", "o": "0"})


def _bank(name: str, split: str) -> list[str]:
    items = getattr(B, name)
    if name not in B.SPLIT_BANKS:
        return items
    return [x for i, x in enumerate(items) if split_of(i) == split]


def split_of(position: int) -> str:
    """Split of a template or bank item by its position: 3 mod 4 test, 1 mod 4 valid."""
    return {3: "test", 1: "valid"}.get(position % 4, "train")


def _phone(rng: random.Random) -> str:
    d = "9" + "".join(str(rng.randrange(10)) for _ in range(8))
    style = rng.randrange(6)
    return [d, f"{d[:3]} {d[3:6]} {d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}", f"+51 {d[:3]} {d[3:6]} {d[6:]}",
            f"51{d}", f"{d[:3]}.{d[3:6]}.{d[6:]}"][style]


def _misspell(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1:]
    if op == 1:
        return word[:i] + word[i] + word[i:]
    if op == 2:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word.translate(_LEET)


def _fill(template: str, split: str, rng: random.Random, depth: int = 0) -> str:
    def repl(m: re.Match[str]) -> str:
        slot = m.group(1)
        if slot == "n":
            return str(rng.choice([2, 3, 5, 10, 15, 20, 25, 30, 40, 45, 50, 60, 80, 100, 120, 150, 200, 250, 300, 500, 1000, 1200, 2500]))
        if slot == "year":
            return str(rng.choice([2019, 2020, 2021, 2022, 2023, 2024, 2025]))
        if slot == "phone":
            return _phone(rng)
        if slot == "usphone":
            return f"({rng.randrange(201, 989)}) 555-{rng.randrange(1000, 9999)}"
        if slot == "handle":
            return "@" + rng.choice(B.USERS) + rng.choice(["", "", "_" + str(rng.randrange(10, 99))])
        if slot == "digits":
            return "9" + "".join(str(rng.randrange(10)) for _ in range(8))
        value = rng.choice(_bank(SLOT_BANKS[slot], split))
        if slot in DRUG_SLOTS and rng.random() < 0.18:
            value = " ".join(_misspell(w, rng) if len(w) > 4 else w for w in value.split(" "))
        return value

    out = _SLOT.sub(repl, template)
    if depth < 3 and _SLOT.search(out):
        return _fill(out, split, rng, depth + 1)
    return out


def _noise(text: str, label: int, rng: random.Random) -> str:
    if rng.random() < 0.25:
        for pat, rep in _ABBREV:
            if rng.random() < 0.5:
                text = re.sub(pat, rep, text, flags=re.IGNORECASE)
    if rng.random() < 0.3:
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    if rng.random() < 0.2:
        text = re.sub(r"[.,;:!¡¿?|]", "", text)
    r = rng.random()
    if r < 0.07:
        text = text.upper()
    elif r < 0.35:
        text = text.lower()
    if rng.random() < 0.2:
        pool = B.EMOJI_POS if (label or rng.random() < 0.3) else B.EMOJI_NEG
        text = f"{text} {rng.choice(pool)}" if rng.random() < 0.5 else f"{rng.choice(pool)} {text}"
    return re.sub(r"\s+", " ", text).strip()


def generate(seed: int = SEED, scale: float = 1.0) -> list[dict]:
    """Return the synthetic corpus as records (id, text, label, category, lang, family, template, split)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict] = []
    for family, label, category, lang, templates in FAMILIES:
        target = max(len(templates), int(TARGETS[family] * scale))
        made = 0
        for k in range(target * 3):
            if made >= target:
                break
            t_index = k % len(templates)
            split = split_of(t_index)
            text = _noise(_fill(templates[t_index], split, rng), label, rng)
            key = text.lower()
            if key in seen:
                continue
            seen.add(key)
            made += 1
            rows.append({
                "id": f"syn-{len(rows) + 1:05d}", "text": text, "label": label,
                "category": category, "lang": lang, "family": family,
                "template": f"{family}#{t_index}", "split": split,
            })
    return rows


def write_jsonl(rows: Iterable[dict], path: Path) -> str:
    """Write rows as JSON Lines; return the sha256 of the file."""
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    path.write_text(body, encoding="utf-8")
    return hashlib.sha256(body.encode()).hexdigest()


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSON Lines corpus; a bad line raises with its number."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row.get("text"), str) or row.get("label") not in (0, 1):
                raise ValueError(f"{path.name}:{n}: needs a string 'text' and a 0/1 'label'")
            rows.append(row)
    return rows
