"""Substance names as people write them in seizure reports, laboratory sheets and case forms.

A police report says "presunto fentanilo", a laboratory "Fentanyl HCl 2 %", a hospital
"heroína cortada con fentanilo y xilazina", a clerk "fentanillo". This module turns such text
into what the substance registry can look up, without knowing the registry:

- :func:`spelling_key` folds Spanish and English chemical spellings onto one key (``fentanilo``
  and ``fentanyl``, ``isotonitaceno`` and ``isotonitazene``, ``p-fluoro`` and ``para-fluoro``);
- :func:`split_parts` splits a mixture on the ways people join substances (``+``, ``/``, ``y``,
  ``con``, ``cortada con``, ``laced with``, parentheses);
- :func:`content_words` drops what is not a substance name: strengths, dosage forms, salts,
  qualifiers ("presunto", "trazas de", "positivo a") and colours;
- :func:`family_hint` says which family an unlisted name belongs to ("o-metilfentanilo" is a
  fentanyl, "N-pirrolidino protonitaceno" a nitazene) so that an expert can review it.

The registry (``centinela.ews.registry``) does the lookups with these keys.
"""

from __future__ import annotations

import re

from centinela.lib.text import fold

# Strengths, masses, purities and counts: "50 mcg/h", "0,05 mg/ml", "2 %", "x 10 ml", "10mg".
_STRENGTH = re.compile(
    r"(?<![a-z0-9-])(?:x\s*)?\d+(?:[.,]\d+)?\s*"
    r"(?:%|mcg/h|µg/h|ug/h|mcg/ml|µg/ml|ug/ml|mg/ml|mg/h|g/ml|mcg|µg|ug|mg|kg|gr|grs|g|ml|l|"
    r"gramos?|unidades|unid|und|u|uds|cc)?(?![a-z0-9-])")
# Substituents a ring position is written before ("para-fluoro", "4 metil", "orto-cloro").
_SUBSTITUENT = "fluor|clor|chlor|brom|metil|methyl|metoxi|methoxy|hidroxi|hydroxy"
# Position words glued to their substituent: "para fluoro" -> "para-fluoro".
_POSITION_WORD = re.compile(
    rf"\b(para|orto|ortho|meta|alfa|alpha|beta|p|o|m)[\s-]+(?=(?:{_SUBSTITUENT}))")
# A position written apart from its substituent: "4 fluoro fentanilo", "4 ANPP".
_NUMBER_POSITION = re.compile(
    rf"(?<![a-z0-9.,])([1-4])\s+(?=(?:{_SUBSTITUENT}|anpp|ap\b|piperid|carbometox))")
# "positivo para X" is a test result, not the para- position of X.
_RESULT_FOR = re.compile(r"\b(positiv[oa]s?|negativ[oa]s?|reactiv[oa]s?)\s+para\b")
_CONNECTORS = (
    r"mezclad[oa]s? con|cortad[oa]s? con|adulterad[oa]s? con|contaminad[oa]s? con|"
    r"combinad[oa]s? con|junto con|junto a|laced with|cut with|mixed with|along with|"
    r"together with|mezcla de|mixture of|con|y|e|o|u|and|or|with|plus|mas|más|sumado a|"
    r"ademas de|además de"
)
_SPLIT = re.compile(rf"\s*(?:[;,+&|/\\()\[\]{{}}]|\s(?:{_CONNECTORS})\s)\s*")
# Words that never name a substance (folded): qualifiers, forms, salts, colours, articles.
DROP = frozenset("""
presunto presunta presuntos presuntas presuntamente posible posibles probable probables
probablemente sospecha sospechas sospechoso sospechosa sospechosos sospechosas supuesto supuesta
de del la el los las lo un una unos unas al en a por
traza trazas indicio indicios resto restos residuo residuos huella huellas
suspected suspect suspicion possible possibly probable probably presumptive presumed presumably
tentative tentatively traces trace of the an in as for
positivo positiva positivos positivas positive negativo negativa para reactivo reactiva reactive
compatible compatibles consistent prueba pruebas campo field test tests screening tamizaje
identificado identificada identificados identificadas identified identificacion detectado
detectada detectados detectadas detected confirmado confirmada confirmed confirmacion
cualitativo cualitativa cuantitativo cuantitativa id result resultado resultados cas
droga drogas sustancia sustancias substance substances muestra muestras sample samples
polvo polvos pastilla pastillas tableta tabletas comprimido comprimidos capsula capsulas
ampolla ampollas ampolleta ampolletas vial viales frasco frascos parche parches
solucion soluciones inyectable inyectables jarabe gotas blister blisters liquido liquida
pildora pildoras pill pills tablet tablets capsule capsules powder powders patch patches
ampoule ampoules ampul ampuls injection injectable solution liquid blotter blotters
papel papeles sello sellos envoltorio envoltorios kete ketes bolsa bolsas bolsita bolsitas
paquete paquetes paquetito paquetitos dosis transdermico transdermica transdermal sistema
uso hospitalario medicinal farmaceutico farmaceutica pharmaceutical grade
falso falsa falsos falsas falsificado falsificada falsificados falsificadas counterfeit fake
pressed prensado prensada prensados prensadas
citrato citrate clorhidrato hidrocloruro hydrochloride hcl sulfato sulphate sulfate fosfato
phosphate tartrato bitartrato bitartrate base libre free monohidrato hidratado hydrate sal salt
salts sales
blanco blanca blancos blancas azul azules rosado rosada rosados rosadas marron cafe amarillo
amarilla verde verdes gris beige white blue brown yellow green grey gray color colour
""".split())
# Words that make a part a class, not a substance: "análogo de fentanilo" is not fentanyl.
GENERIC = frozenset("""
analogo analogos analoga analogas analogue analogues analog analogs derivado derivados
derivada derivadas derivative derivatives relacionado relacionados relacionada relacionadas
related like tipo similar familia family clase class grupo group nuevo nueva nuevos nuevas novel new
""".split())
# Words that only say "a substance we do not know".
UNKNOWN = frozenset("""
desconocido desconocida desconocidos desconocidas unknown no identificado identificada
unidentified otro otra otros otras other nps nsp opioide opioides opioid opioids sintetico
sintetica sinteticos sinteticas synthetic precursor precursores precursors estupefaciente
estupefacientes narcotic narcotics medicamento medicamentos medicine medicines farmaco farmacos
""".split())
_KEEP_ALNUM = re.compile(r"[^a-z0-9]")
_DOUBLES = re.compile(r"([a-z])\1+")
_SPELLING = (("ph", "f"), ("th", "t"), ("chlor", "clor"), ("fluoro", "fluor"), ("y", "i"),
             ("k", "c"), ("z", "c"), ("alpha", "alfa"))
_POSITIONS = (
    (re.compile(r"(?:^|(?<=[^a-z]))(?:para|p)-(?=[a-z])"), "4-"),
    (re.compile(r"(?:^|(?<=[^a-z]))(?:orto|ortho|o)-(?=[a-z])"), "2-"),
    (re.compile(r"(?:^|(?<=[^a-z]))(?:meta|m)-(?=[a-z])"), "3-"),
    (re.compile(rf"^para(?=(?:{_SUBSTITUENT}))"), "4-"),
    (re.compile(rf"^(?:orto|ortho)(?=(?:{_SUBSTITUENT}))"), "2-"),
)


def spelling_key(name: str) -> str:
    """One key for the Spanish and English spellings of a chemical name.

    ``fentanilo``, ``fentanyl`` and ``Fentanil`` give ``fentanil``; ``para-fluorofentanilo``,
    ``p-fluorofentanyl`` and ``parafluorofentanilo`` give ``4fluorfentanil``; accents, case,
    hyphens, spaces and doubled letters do not count.
    """
    s = fold(name).replace("α", "alfa-").replace("β", "beta-")
    s = _POSITION_WORD.sub(lambda m: m.group(1) + "-", s)
    for pattern, repl in _POSITIONS:
        s = pattern.sub(repl, s)
    for a, b in _SPELLING:
        s = s.replace(a, b)
    s = _DOUBLES.sub(r"\1", _KEEP_ALNUM.sub("", s))
    return s[:-1] if len(s) > 4 and s[-1] in "aeo" else s


def strip_strengths(text: str) -> str:
    """``text`` folded, without strengths, masses, purities and counts."""
    return _STRENGTH.sub(" ", _NUMBER_POSITION.sub(r"\1-", fold(text)))


def split_parts(text: str) -> list[str]:
    """The parts of a reported mixture, folded, strengths removed, in the order written."""
    s = _RESULT_FOR.sub(r"\1 a", strip_strengths(text))
    s = _POSITION_WORD.sub(lambda m: m.group(1) + "-", s)
    return [p.strip(" .:-*'\"") for p in _SPLIT.split(s) if p and p.strip(" .:-*'\"")]


def content_words(part: str) -> list[str]:
    """The words of one part that may name a substance (qualifiers, forms, salts dropped)."""
    out = []
    for w in part.split():
        w = w.strip(".:;,'\"*¿?¡!()[]{}")
        if w and w not in DROP and not w.isdigit():
            out.append(w)
    return out


def is_generic(part: str) -> bool:
    """True for a part that names a class ("análogo de fentanilo", "fentanyl-like")."""
    return generic_at(part.split()) is not None


def only_unknown(words: list[str]) -> bool:
    """True when every word just says "some substance" ("sustancia desconocida", "opioide")."""
    return all(w in UNKNOWN for w in words)


def family_hint(text: str) -> str | None:
    """The family an unlisted name says it belongs to: ``fentanyl``, ``nitazene`` or None."""
    key = spelling_key(text)
    if "fentanil" in key or "fentanl" in key:
        return "fentanyl"
    if "nitacen" in key or "nitacep" in key:
        return "nitazene"
    return None


_MODIFIER = re.compile(
    r"^(?:[nopm]|[0-9,]+|alfa|alpha|beta|para|orto|ortho|meta)-|"
    r"^(?:para|orto|ortho|meta|alfa|alpha|beta|iso|nor|des|n|o|p|m)$|"
    r"(?:il|yl|ilo|oxi|oxy|fluor|fluoro|cloro|chloro|bromo|olidino|peridino|morfolino|amino)$")


def is_modifier(word: str) -> bool:
    """True for a word that changes the name after it ("N-pirrolidino" metonitaceno,
    "orto-metil" fentanilo, "acetil" fentanilo): what follows names another compound."""
    return bool(_MODIFIER.search(word))


def initials(name: str) -> str:
    """The first letter of each word of a name (words split at spaces and hyphens)."""
    return "".join(w[0] for w in re.split(r"[\s\-]+", fold(name)) if w)


def typo_limit(key: str) -> int:
    """How many edits the registry name of this key may take in a typo: none below 6 letters
    (too many short names are one letter apart), else one. Never two: chemical names of
    different compounds are often two letters apart (isotonitazene, "isotonitazepyne")."""
    return 0 if len(key) < 6 else 1


_CAS = re.compile(r"(?<![0-9-])([1-9][0-9]{1,6})-([0-9]{2})-([0-9])(?![0-9-])")


def cas_numbers(text: str) -> list[str]:
    """The CAS registry numbers in ``text`` whose check digit is right ("CAS 21409-26-7")."""
    out = []
    for m in _CAS.finditer(text):
        digits = (m.group(1) + m.group(2))[::-1]
        if sum((i + 1) * int(d) for i, d in enumerate(digits)) % 10 == int(m.group(3)):
            out.append(m.group(0))
    return out


def generic_at(words: list[str]) -> int | None:
    """Index of the first word that makes the rest a class phrase ("análogo de …")."""
    for i, w in enumerate(words):
        if set(re.split(r"-", w)) & GENERIC:
            return i
    return None


# -- systematic (IUPAC) names -----------------------------------------------------------------
# A laboratory may write the systematic name, in English or Spanish, in another bracket style,
# with substituents in another order or an older form ("phenethyl", "4-piperidinyl").
# ``iupac_key`` gives one key for all of them: the name's morphemes and locants, each as a
# sorted multiset. Isomers keep apart (their locants differ); names the registry cannot tell
# apart this way are dropped from its index (ambiguous, never matched).
_IUPAC_SYNONYMS = (
    (re.compile(r"phenethyl|fenetil"), "(2-phenylethyl)"),
    (re.compile(r"(\d+)-piperidin(?:yl|il|yl|ilo)\b"), r"piperidin-\1-yl"),
    (re.compile(r"(\d+)-piperid(?:yl|il)\b"), r"piperidin-\1-yl"),
    (re.compile(r"propionamid"), "propanamid"),
    (re.compile(r"(?<![a-z0-9])\d+h-"), ""),  # indicated hydrogen ("1H-benzimidazol")
    (re.compile(r"an-1-amin"), "anamin"),  # "ethan-1-amine" is "ethanamine"
    (re.compile(r"anilino"), "phenylamino"),
    (re.compile(r"benzeneethyl|bencenoetil"), "(2-phenylethyl)"),
)
_MORPHEMES = sorted({
    nm for w in """
    phenyl ethyl methyl propyl butyl pentyl hexyl yl yloxy oxy hydroxy methoxy ethoxy propoxy
    butoxy piperidin piperazin pyrrolidin morpholin benzimidazol benzyl benzo benz nitro
    fluoro chloro bromo iodo amide amido amine amino carboxamide carboxylate carboxyl carbonyl
    propan butan pentan ethan methan hexan heptan prop but pent eth meth acet acetyl ene en an
    one ol oxo oxolan furan thiophen cyclopropan cyclohexyl cyclohexan cyclo di tri tetra hydro
    tert iso thiazin purin tetrazol isoquinolin morphinan epoxy diyl dione diol cyano
    """.split() for nm in (w,)
}, key=len, reverse=True)
_IUPAC_HINT = re.compile(r"(?:yl|il|amid|amin|piperidin|imidazol|carbox|propan|oxy|oxi)")


def _iupac_spelling(text: str) -> str:
    s = fold(text)
    for pattern, repl in _IUPAC_SYNONYMS:
        s = pattern.sub(repl, s)
    for a, b in _SPELLING:
        s = s.replace(a, b)
    return s


_MORPH_NORM = sorted({_DOUBLES.sub(r"\1", _iupac_spelling(m)) for m in _MORPHEMES},
                     key=len, reverse=True)


def _segment(run: str) -> list[str]:
    """A run of letters cut into known morphemes (longest first); unknown letters kept as one
    token each run, so two spellings of one name still cut alike."""
    out, rest, i = [], "", 0
    while i < len(run):
        for m in _MORPH_NORM:
            if run.startswith(m, i):
                if rest:
                    out.append(rest)
                    rest = ""
                out.append(m)
                i += len(m)
                break
        else:
            rest += run[i]
            i += 1
    if rest:
        out.append(rest)
    # Spanish and English endings alike ("propanamida", "propanamide"; "nitro" at a run's end
    # or inside one): a token's last vowel does not count.
    # A lone vowel left between morphemes ("piperidin-e-4-…") does not count either.
    return [t[:-1] if len(t) >= 3 and t[-1] in "aeo" else t for t in out
            if t not in ("a", "e", "o")]


def looks_like_iupac(text: str) -> bool:
    """True for a systematic name ("N-fenil-N-[1-(2-feniletil)piperidin-4-il]propanamida",
    "methyl 1-(2-phenylethyl)-4-…-carboxylate"): locants, three or more of the morphemes such
    names are made of, and no space but an ester's ("methyl 1-…") or a salt after it."""
    s = fold(text).strip()
    s = re.sub(r"^(?:[a-z]+-)?[a-z]+(?:yl|il|ilo)\s+(?=[\d(\[])", "", s)  # "methyl 1-(...)"
    s = re.sub(r"\s+(?:hcl|citrat[eo]|clorhidrato|hydrochloride)$", "", s)
    if not s or re.search(r"\s", s):
        return False
    if not re.search(r"\d-|-\d|(?:^|[^a-z])n-|\[|\(\d", s):
        return False
    return len(_IUPAC_HINT.findall(_iupac_spelling(s))) >= 3


def iupac_key(text: str) -> str:
    """One key for the spellings of one systematic name (language, bracket style, order of
    substituents, "phenethyl" or "2-phenylethyl"): its sorted morphemes, then its sorted
    locants, each with its bracket depth — so "N-(2-methylphenyl)…propanamide" (a methyl on
    the ring) and "2-methyl-N-phenyl…propanamide" (on the chain) keep apart."""
    s = _iupac_spelling(text)
    depth_at, depth = [], 0
    for c in s:
        if c in ")]}":
            depth = max(depth - 1, 0)
        depth_at.append(depth)
        if c in "([{":
            depth += 1
    words: list[str] = []
    numbers: list[str] = []
    for m in re.finditer(r"[a-z]+|\d+", s):
        tok, d = m.group(0), depth_at[m.start()]
        if tok.isdigit():
            numbers.append(f"{tok}@{d}")
        else:
            words.extend(f"{w}@{d}" for w in _segment(_DOUBLES.sub(r"\1", tok)))
    return " ".join(sorted(words)) + "|" + " ".join(sorted(numbers))


def iupac_family(text: str) -> str | None:
    """The family a systematic name's morphemes say: a 4-anilidopiperidine (``fentanyl``: an
    N-phenyl amide on a piperidin-4-yl) or a 2-benzylbenzimidazole (``nitazene``)."""
    words = {w.split("@")[0] for w in iupac_key(text).split("|")[0].split()}
    if {"piperidin", "fenil", "amid"} <= words:
        return "fentanyl"
    if "bencimidacol" in words and ("nitr" in words or {"etil", "amin"} <= words) \
            and "on" not in words:
        return "nitazene"
    return None


def strip_salt(name: str) -> str:
    """A systematic name without a salt written after it ("… HCl", "…, citrate")."""
    return re.sub(r"[\s,]+(?:hcl|citrat[eo]|clorhidrato|hydrochloride|hidrocloruro)\s*$", "",
                  name.strip(), flags=re.IGNORECASE)


def iupac_spans(text: str) -> list[tuple[str, str]]:
    """The systematic names in a reported text, each with the text left without it: the whole
    text when it is one, else each top-level parenthesis that holds one."""
    whole = strip_salt(text)
    if looks_like_iupac(whole):
        return [(whole, "")]
    out = []
    depth, start = 0, -1
    spans = []
    for i, c in enumerate(text):
        if c in "([":
            if depth == 0:
                start = i
            depth += 1
        elif c in ")]" and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, i))
    rest = text
    for a, b in spans:
        inner = strip_salt(text[a + 1:b])
        if looks_like_iupac(inner):
            out.append(inner)
            rest = rest.replace(text[a:b + 1], " ")
    return [(name, rest) for name in out]
