#!/usr/bin/env python3
"""Rewrite old Centinela import paths to their issue-13 homes across a tree.

Usage: ``python3 tools/rewrite_imports.py src tests benchmarks [--check]``

Handles ``import a.b``, ``from a.b import x, y`` (splitting a line when only some names moved),
``from a import b`` for moved modules, and dotted names inside strings (``monkeypatch`` targets,
``"module:function"`` tables). Idempotent; prints each file it changed. ``--check`` only lists
the files that still use an old path (exit 1 when any).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Whole modules: old dotted path → new dotted path.
MODULES: dict[str, str] = {
    "centinela.ingest.models": "centinela.ledger.records",
    "centinela.registry.intake": "centinela.ingest.registry",
    "centinela.detect.scheduler": "centinela.jobs",
    "centinela.detect.mme": "centinela.ledger.mme",
    "centinela.online.text": "centinela.lib.text",
    "centinela.ingest.extensions": "centinela.ingest.hooks",  # values are now functions
    "centinela.ews.chem": "centinela.lib.chem",
    "centinela.registry.forms": "centinela.ledger.forms",
}

# Single names that moved out of a module that still exists: (old module, name) → new module.
SYMBOLS: dict[tuple[str, str], str] = {
    ("centinela.ingest.fields", "EVENT_TYPES"): "centinela.ledger.records",
    ("centinela.ledger.balances", "import_balances_file"): "centinela.ingest.balances",
    ("centinela.ledger.balances", "BALANCES"): "centinela.ingest.balances",
    ("centinela.ledger.forms", "import_forms_file"): "centinela.ingest.forms",
    ("centinela.ledger.forms", "FORMS"): "centinela.ingest.forms",
    ("centinela.ews.detect", "run"): "centinela.ews.detectors",
    ("centinela.ews.detect", "DETECTORS"): "centinela.ews.detectors",
    ("centinela.ews.detect", "lima_day"): "centinela.lib.clock",
    ("centinela.detect.context", "LIMA_OFFSET_S"): "centinela.lib.clock",
    ("centinela.online.connectors.base", "LIMA"): "centinela.lib.clock",
    ("centinela.web.views.common", "LIMA"): "centinela.lib.clock",
    ("centinela.ews.intake", "LIMA"): "centinela.lib.clock",
    ("centinela.ews.export", "LIMA"): "centinela.lib.clock",
    ("centinela.ingest.service", "utcnow"): "centinela.lib.clock",
    ("centinela.accounts.service", "utcnow"): "centinela.lib.clock",
    ("centinela.alerts.service", "alert_json"): "centinela.alerts.payload",
    ("centinela.generate.scenarios", "plan"): "centinela.generate.planting",
    ("centinela.web.views.mme", "unit_of"): "centinela.ledger.mme",
    ("centinela.web.views.mme", "mme_per_unit"): "centinela.ledger.mme",
    ("centinela.web.views.mme", "daily_mme"): "centinela.ledger.mme",
    ("centinela.web.views.lookup", "LookupRefused"): "centinela.ledger.patients",
    ("centinela.web.views.lookup", "valid_document"): "centinela.ledger.patients",
    ("centinela.reference.ubigeo", "fold"): "centinela.lib.text",
    ("centinela.public.text", "fold"): "centinela.lib.text",
    ("centinela.public.directory", "haversine_km"): "centinela.lib.geo",
    ("centinela.ews.scan", "haversine_matrix"): "centinela.lib.geo",
    ("centinela.ews.scan", "EARTH_KM"): "centinela.lib.geo",
    ("centinela.ews.intake", "RecordError"): "centinela.ingest.files",
    ("centinela.ews.intake", "content_hash"): "centinela.ingest.files",
    ("centinela.ews.intake", "read_records"): "centinela.ingest.files",
    ("centinela.ews.intake", "parse_time"): "centinela.lib.clock",
    ("centinela.ews.detect", "LIMA_OFFSET"): "centinela.lib.clock",  # as UTC_OFFSET (same sign)
    ("centinela.cli.dbcmd", "settings_markdown"): "centinela.config",
    ("centinela.web.routes.public", "ANALYSTS"): "centinela.accounts.policy",
    ("centinela.web.routes.ews", "ANALYSTS"): "centinela.accounts.policy",
    ("centinela.web.routes.intake", "INTAKE_ROLES"): "centinela.accounts.policy",
    ("centinela.web.routes.quarterly", "INTAKE_ROLES"): "centinela.accounts.policy",
    ("centinela.web.routes.quarterly", "REPORT_ROLES"): "centinela.accounts.policy",
    ("centinela.web.routes.online", "ROLES"): "centinela.accounts.policy",
}

# Names that were renamed on the way: (new module, old name) → new name.
RENAMES: dict[tuple[str, str], str] = {
    ("centinela.lib.clock", "day_window"): "lima_days",
}
# public.text.fold kept ñ: it is lib.text.fold_keep_enye (imported under its old name).
RENAMES_FROM: dict[tuple[str, str], str] = {
    ("centinela.public.text", "fold"): "fold_keep_enye",
    ("centinela.ews.detect", "LIMA_OFFSET"): "UTC_OFFSET",
    ("centinela.ews.detect", "day_window"): "lima_days",
    ("centinela.web.routes.public", "ANALYSTS"): "INVESTIGATORS",  # it included the police
    ("centinela.web.routes.quarterly", "REPORT_ROLES"): "NATIONAL",
    ("centinela.web.routes.online", "ROLES"): "ONLINE_ROLES",
}
# Not mapped (opposite sign, rewrite by hand): ``ingest.values.LIMA_OFFSET`` and
# ``quarterly.figures.LIMA`` were +5 h (Lima → UTC); use ``lib.clock.lima_midnight``/``to_utc``.
# ``web.views.lookup.identity_of`` stays; its logic is ``ledger.patients.patient_identity``.
# Attribute uses of a moved name through its old module (``detect.day_window(...)`` after
# ``from centinela.ews import detect``) are not rewritten: grep for them after a merge.
SYMBOLS[("centinela.ews.detect", "day_window")] = "centinela.lib.clock"

_FROM = re.compile(r"^(?P<indent>[ \t]*)from (?P<mod>[\w.]+) import (?P<names>\([^)]*\)|[^\n#]+)"
                   r"(?P<tail>[ \t]*(?:#[^\n]*)?)$", re.M)


def _split_names(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("("):
        raw = raw[1:-1]
    raw = re.sub(r"#[^\n]*", "", raw)
    return [n.strip() for n in raw.replace("\n", " ").split(",") if n.strip()]


def _moves(mod: str, names: str) -> bool:
    if mod in MODULES:
        return True
    return any((mod, n.partition(" as ")[0].strip()) in SYMBOLS or
               f"{mod}.{n.partition(' as ')[0].strip()}" in MODULES for n in _split_names(names))


def _rewrite_from(m: re.Match) -> str:
    indent, mod, names, tail = m["indent"], m["mod"], m["names"], m["tail"]
    if not _moves(mod, names):
        return m.group(0)
    mod = MODULES.get(mod, mod)
    tail = f"  {tail.strip()}" if tail.strip() else ""
    parts = _split_names(names)
    groups: dict[str, list[str]] = {}
    for part in parts:
        name, _, alias = part.partition(" as ")
        name, alias = name.strip(), alias.strip()
        target = SYMBOLS.get((mod, name), mod)
        # "from centinela.ingest import models" → "from centinela.ledger import records as models"
        full = f"{mod}.{name}"
        if full in MODULES:
            new_pkg, _, new_name = MODULES[full].rpartition(".")
            alias = alias or (name if new_name != name else "")
            target, name = new_pkg, new_name
        new_name = RENAMES_FROM.get((mod, name)) or RENAMES.get((target, name), name)
        if new_name != name and not alias:
            alias = name
        groups.setdefault(target, []).append(f"{new_name} as {alias}" if alias and alias != new_name
                                             else new_name)
    lines = []
    for i, (target, items) in enumerate(groups.items()):
        body = ", ".join(items)
        line = f"{indent}from {target} import {body}"
        if len(line) > 100:
            inner = "".join(f"{indent}    {it},\n" for it in items)
            line = f"{indent}from {target} import (\n{inner}{indent})"
        lines.append(line + (tail if i == 0 else ""))
    return "\n".join(lines)


# The public channels' second settings object became the ``public`` section of the one settings.
CALLS: list[tuple[str, str]] = [
    (r"\bget_public_settings\.cache_clear\(\)", "get_settings.cache_clear()"),
    (r"\bget_public_settings\(\)", "get_settings().public"),
    (r"\bPublicSettings\b", "PublicSettings"),
]
_PUBLIC_IMPORT = re.compile(r"^([ \t]*)from centinela\.public\.settings import ([^\n]+)$", re.M)


def _public_import(m: re.Match) -> str:
    names = [n.strip() for n in m[2].split(",")]
    new = sorted({"get_settings" if n == "get_public_settings" else n for n in names})
    return f"{m[1]}from centinela.config import {', '.join(new)}"


def rewrite(text: str) -> str:
    """Return ``text`` with every old path replaced by its new one."""
    out = _FROM.sub(_rewrite_from, text)
    if "centinela.public.settings" in out or "get_public_settings" in out:
        out = _PUBLIC_IMPORT.sub(_public_import, out)
        for pattern, new in CALLS:
            out = re.sub(pattern, new, out)
        # one import of get_settings per scope is enough
        out = re.sub(r"^([ \t]*)(from centinela\.config import get_settings\n)((?:.*\n)*?)\1\2",
                     r"\1\2\3", out, flags=re.M)
    for old, new in sorted(MODULES.items(), key=lambda kv: -len(kv[0])):
        out = re.sub(rf"(?<![\w.]){re.escape(old)}(?![\w])", new, out)
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    roots = [Path(a) for a in argv if a != "--check"] or [Path(".")]
    stale = 0
    for root in roots:
        files = [root] if root.is_file() else sorted([*root.rglob("*.py"), *root.rglob("*.md")])
        for path in files:
            if path.resolve() == Path(__file__).resolve():
                continue
            text = path.read_text(encoding="utf-8")
            new = rewrite(text)
            if new != text:
                stale += 1
                print(path)
                if not check:
                    path.write_text(new, encoding="utf-8")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
