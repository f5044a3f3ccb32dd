"""Streaming readers of CSV and JSON Lines files: one record at a time, never the whole file.

Each reader yields ``(line, values, error, raw)``: ``values`` is a tuple of stripped strings in
the spec's field order (absent optional columns read as ``""``); when the record cannot even be
read, ``values`` is None, ``error`` says why and ``raw`` holds what was read.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from itertools import chain
from operator import itemgetter
from pathlib import Path

from centinela.ingest.fields import RecordSpec
from centinela.ingest.values import MAX_REASON, Invalid, printable
from centinela.privacy import redact, safe_name

Item = tuple[int, tuple | None, Invalid | None, dict | None]


class FileRefused(Exception):
    """A whole file that cannot be imported (unknown or missing column, unreadable)."""

    def __init__(self, field: str | None, reason: str) -> None:
        safe = safe_name(field) if field else field
        if field and safe != field:  # never echo a column named like a document number
            reason = reason.replace(field, safe)
        if safe and (len(safe) > 60 or not safe.isprintable()):  # e.g. a binary file's "header"
            short = printable(safe[:40]) + ("…" if len(safe) > 40 else "")
            reason, safe = reason.replace(safe, short), short
        reason = redact(reason)
        reason = reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + "…"
        super().__init__(reason)
        self.field = safe
        self.reason = reason


def read_records(path: Path, spec: RecordSpec) -> Iterator[Item]:
    """Yield the records of a ``.csv`` or ``.jsonl`` file (FileRefused on a bad header)."""
    if path.suffix.lower() == ".jsonl":
        return _read_jsonl(path, spec)
    return _read_csv(path, spec)


def count_lines(path: Path) -> int:
    """Count lines cheaply (for a refused file's report)."""
    n = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def _decoded(fh, bad: set[int]) -> Iterator[str]:
    for n, raw in enumerate(fh, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(n)
            text = raw.decode("utf-8", "replace")
        if n == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text


EXCEL_HINT = ("en Excel: «Guardar como» → «CSV UTF-8 (delimitado por comas)» / in Excel: "
              "Save As → CSV UTF-8 (Comma delimited)")


def check_header(header: list[str], spec: RecordSpec) -> list[str]:
    """Return the stripped column names, or raise FileRefused naming the bad column."""
    names = [h.strip() for h in header]
    if len(names) == 1:
        for sep, es, en in ((";", "punto y coma (;)", "semicolons (;)"),
                            ("\t", "tabuladores", "tabs")):
            parts = [x.strip() for x in names[0].split(sep)]
            if len(parts) > 1 and sum(x in spec.allowed for x in parts) >= 2:
                # Excel in a Spanish locale writes ';': say so instead of "unknown column"
                raise FileRefused(None, f"la cabecera está separada por {es}; el formato separa "
                                        f"las columnas con comas / the header is separated by "
                                        f"{en}; the reporting format separates columns with "
                                        f"commas ({EXCEL_HINT})")
    seen: set[str] = set()
    for name in names:
        if not name:
            raise FileRefused(None, "columna sin nombre en la cabecera / empty column name in the "
                                    "header")
        if name not in spec.allowed:
            raise FileRefused(name, f"columna '{name}' no definida en el formato; archivo rechazado "
                                    f"/ column '{name}' is not in the reporting format for "
                                    f"{spec.name}; file refused")
        if name in seen:
            raise FileRefused(name, f"columna '{name}' repetida / duplicate column '{name}'")
        seen.add(name)
    missing = [f for f in spec.fields if f in spec.required and f not in seen]
    if missing:
        raise FileRefused(missing[0], f"falta la columna obligatoria '{missing[0]}' / required "
                                      f"column '{missing[0]}' is missing")
    return names


def _utf8_ok(path: Path) -> bool:
    """Return True if the whole file is valid UTF-8 (C-speed scan, 1 MiB at a time)."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                dec.decode(block)
            dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


FAST_LINES = True  # split plain lines without csv.reader (tests compare both ways)


class _Lines:
    """The file's lines for ``csv.reader``, with one line put back first (``back``); while
    ``taken`` is a list, every line handed out is also appended to it."""

    __slots__ = ("it", "back", "taken")

    def __init__(self, it: Iterator[str]) -> None:
        self.it, self.back = it, None
        self.taken: list[str] | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.back
        if line is None:
            line = next(self.it)
        else:
            self.back = None
        if self.taken is not None:
            self.taken.append(line)
        return line


UNCLOSED = ("CSV mal formado: una comilla abierta en esta línea no se cierra en ella; las líneas "
            "siguientes se leen aparte / malformed CSV: a quote opened on this line is not closed "
            "on it; the following lines are read on their own")


def _fields(names: list[str], text: str) -> dict:
    """What can be kept of an unreadable line: its text split at the commas, by column."""
    return dict(zip(names, text.rstrip("\r\n").split(","), strict=False))


def _refuse_utf16(path: Path) -> None:
    """A file saved as UTF-16 ("Unicode text" in Excel) is refused with what to do instead of
    a csv error about new-line characters."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head.count(b"\x00") > len(head) // 4:
        raise FileRefused(None, "el archivo está codificado en UTF-16 (texto Unicode); el formato "
                                "pide UTF-8 / the file is encoded as UTF-16 (Unicode text); the "
                                f"reporting format is UTF-8 ({EXCEL_HINT})")


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|"
                            rb"[\xf0-\xf4][\x80-\xbf]{3}")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
# Spanish letters and marks in Windows-1252/Latin-1: á é í ó ú ñ ü Á É Í Ó Ú Ñ ¿ ¡ º ª °.
_SPANISH_1252 = frozenset(b"\xe1\xe9\xed\xf3\xfa\xf1\xfc\xc1\xc9\xcd\xd3\xda\xd1\xbf\xa1\xba\xaa\xb0")


def _refuse_single_byte(path: Path) -> None:
    """A file whose accented letters are all Windows-1252/Latin-1 (Excel's default CSV on Spanish
    Windows: "Jesús María" as 0xFA, 0xED) is refused whole, with what to do: read line by line
    it would lose exactly its accented records and keep the rest. A UTF-8 file with a few
    corrupt bytes, or bytes that are no Spanish letter, is read as before (those lines
    rejected)."""
    multibyte = high = spanish = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            multibyte += len(_UTF8_MULTIBYTE.findall(block))
            found = _HIGH_BYTE.findall(block)
            high += len(found)
            spanish += sum(1 for b in found if b[0] in _SPANISH_1252)
            if multibyte:
                return
    # Spanish text in a single-byte encoding, not a few corrupt bytes (those lines are rejected).
    if high and spanish >= 0.8 * high:
        raise FileRefused(None, "el archivo no está en UTF-8: sus tildes y eñes están en "
                                "Windows-1252/Latin-1, como guarda Excel un «CSV» común; el "
                                "formato pide UTF-8 / the file is not UTF-8: its accented "
                                "letters are Windows-1252/Latin-1, as Excel saves a plain CSV; "
                                f"the reporting format is UTF-8 ({EXCEL_HINT})")


def _csv_error(error: csv.Error, limit: int) -> str:
    """The csv module's error as a reporter can act on it."""
    if "field larger than field limit" in str(error):
        return (f"un campo tiene más de {limit:,} caracteres (¿una comilla sin cerrar?) / a "
                f"field is longer than {limit:,} characters (an unclosed quote?)")
    return f"CSV mal formado / malformed CSV: {error}"


def _read_csv(path: Path, spec: RecordSpec) -> Iterator[Item]:
    _refuse_utf16(path)
    bad: set[int] = set()
    utf8 = _utf8_ok(path)
    if not utf8:
        _refuse_single_byte(path)
    if utf8:  # the usual case: let csv read the text stream directly
        fh = path.open("r", encoding="utf-8-sig", newline="")
        lines = fh
    else:  # decode line by line to pin each bad byte on its line
        fh = path.open("rb")
        lines = _decoded(fh, bad)
    with fh:
        source = _Lines(iter(lines))
        reader = csv.reader(source, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise FileRefused(None, "archivo vacío, sin cabecera / empty file, no header row") from None
        except csv.Error as exc:
            raise FileRefused(None, f"cabecera CSV ilegible / unreadable CSV header: {exc}") from None
        names = check_header(header, spec)
        ncols = len(names)
        # Absent columns point at an extra "" appended to each row; a file with every column
        # in spec order needs no reordering.
        pos = {name: i for i, name in enumerate(names)}
        order = [pos.get(f, ncols) for f in spec.fields]
        getter = None if order == list(range(ncols)) else itemgetter(*order)
        strip = str.strip
        limit = csv.field_size_limit()
        line = reader.line_num
        # Fast path: a line with no quote and nothing but printable characters (so no CR, NUL,
        # tab or other control character inside) is exactly what csv.reader would make of it:
        # its text split at the commas. Spaces are stripped only where the line has one (the
        # other characters str.strip removes are not printable). Any other line, and every line
        # of a file that is not valid UTF-8, goes through csv.reader as it always did.
        fast = FAST_LINES and utf8
        while True:
            for text in source.it:
                start = line + 1
                plain = False
                if fast:
                    body = text[:-2] if text[-2:] == "\r\n" else (
                        text[:-1] if text[-1:] == "\n" else text)
                    plain = '"' not in body and len(body) <= limit and body.isprintable()
                if plain:
                    line = start
                    row = body.split(",")
                    if len(row) == ncols:
                        if " " in body:
                            row = list(map(strip, row))
                        yield start, (tuple(row) if getter is None else getter(
                            row + [""])), None, None
                        continue
                else:
                    # Any other line goes through csv.reader, which may read on into the next
                    # lines (a quoted field may hold a line break). The lines it takes are kept.
                    source.back, source.taken = text, []
                    error: csv.Error | None = None
                    try:
                        row = next(reader)
                    except csv.Error as exc:
                        error = exc
                    except StopIteration:  # pragma: no cover - the line was put back
                        return
                    taken, source.taken = source.taken, None
                    if len(taken) > 1 and (error is not None or len(row) != ncols):
                        # A quote opened and not closed on its line swallowed the lines after
                        # it (to a stray quote or the end of the file): this line is rejected,
                        # the following ones are read again on their own: no record is lost.
                        line = start
                        source.it = chain(taken[1:], source.it)
                        yield start, None, Invalid(None, UNCLOSED), _fields(names, taken[0])
                        break
                    line += len(taken)
                    if error is not None:
                        yield (start, None, Invalid(None, _csv_error(error, limit)),
                               _fields(names, taken[0]))
                        continue
                if any("\x00" in x for x in row):
                    where = _nul_field(names, row)
                    yield (start, None, Invalid(where, NUL_REASON),
                           dict(zip(names, (x.replace("\x00", "") for x in row), strict=False)))
                    continue
                if len(row) == ncols and not bad:
                    yield start, (tuple(map(strip, row)) if getter is None else
                                  tuple(map(strip, getter(row + [""])))), None, None
                    continue
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != ncols:
                    yield (start, None,
                           Invalid(None, f"se esperaban {ncols} campos y hay {len(row)} / "
                                         f"expected {ncols} fields, found {len(row)}"),
                           dict(zip(names, row, strict=False)))
                    continue
                if any(n in bad for n in range(start, line + 1)):
                    yield (start, None, Invalid(None, "texto no es UTF-8 / not valid UTF-8"),
                           dict(zip(names, row, strict=False)))
                    continue
                yield start, (tuple(map(strip, row)) if getter is None else
                              tuple(map(strip, getter(row + [""])))), None, None
            else:
                return


def _scalar(value: object) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError


def _read_jsonl(path: Path, spec: RecordSpec) -> Iterator[Item]:
    allowed = spec.allowed
    fields = spec.fields
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield n, None, Invalid(None, "texto no es UTF-8 / not valid UTF-8"), {}
                continue
            if n == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                msg = str(exc).split(":")[0]
                yield n, None, Invalid(None, f"JSON no válido / invalid JSON: {msg}"), {}
                continue
            if not isinstance(obj, dict):
                yield n, None, Invalid(None, "cada línea debe ser un objeto JSON / each line must "
                                             "be a JSON object"), {}
                continue
            item = _from_object(obj, allowed, fields, spec.name)
            if isinstance(item, Invalid):
                yield n, None, item, obj
            else:
                yield n, item, None, None


def _from_object(obj: dict, allowed: frozenset[str], fields: tuple[str, ...],
                 name: str) -> tuple | Invalid:
    """Turn one JSON object into a values tuple, or an Invalid naming the bad field."""
    for key in obj:
        if key not in allowed:
            return Invalid(str(key), f"campo '{key}' no definido en el formato / field '{key}' is "
                                     f"not in the reporting format for {name}")
    values = []
    for f in fields:
        try:
            value = _scalar(obj.get(f))
        except TypeError:
            return Invalid(f, "debe ser un valor simple / must be a string, number or boolean")
        if "\x00" in value:
            return Invalid(f, NUL_REASON)
        values.append(value)
    return tuple(values)


# A NUL character (0x00) has no place in any field, and PostgreSQL text cannot hold it: the
# record is rejected on its own, never the whole import.
NUL_REASON = "carácter nulo (NUL, 0x00) no permitido / NUL character (0x00) not allowed"


def _nul_field(names: tuple[str, ...] | list[str], row: list[str]) -> str | None:
    """The first field of a CSV row holding a NUL character, or None."""
    for name, value in zip(names, row, strict=False):
        if "\x00" in value:
            return name
    return None


def records_from_objects(objs: list, spec: RecordSpec) -> Iterator[Item]:
    """Yield API batch records (JSON objects) like a JSON Lines file, numbered from 1."""
    for n, obj in enumerate(objs, 1):
        if not isinstance(obj, dict):
            yield n, None, Invalid(None, "cada registro debe ser un objeto JSON / each record must "
                                         "be a JSON object"), {}
            continue
        item = _from_object(obj, spec.allowed, spec.fields, spec.name)
        if isinstance(item, Invalid):
            yield n, None, item, obj
        else:
            yield n, item, None, None
