#!/usr/bin/env python3
"""Convert ``centinela/cli`` modules from the old ``register(app)`` style to module-level Typer
apps (issue 13), so a branch written in the old style can be merged by re-running this.

Usage: ``python3 tools/cli_to_module_level.py src/centinela/cli/detecting.py [...]``

Per file: the body of ``register(app)`` is lifted to module level; ``app.add_typer(x, name=n)``
lines are dropped (``cli/__init__.py`` composes the apps); a module whose only content is one
group calls it ``app``, otherwise each group is named after its command (``auth`` →
``authorities``) and ``app`` holds the top-level commands. Prints the groups found: check that
``GROUPS`` in ``cli/__init__.py`` lists each one. Idempotent (a file without ``register`` is left
alone). A merge aid only: delete once no branch uses the old style.
"""

from __future__ import annotations

import re
import sys

REGISTER = "def register(app: typer.Typer) -> None:"
TOP_APP = "app = typer.Typer()  # top-level commands, merged into the root by cli/__init__"


def _register_span(lines: list[str]) -> tuple[int, int] | None:
    start = next((i for i, line in enumerate(lines) if line.startswith(REGISTER)), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (lines[end] == "" or lines[end].startswith(" ")):
        end += 1
    while lines[end - 1] == "":
        end -= 1
    return start, end


def _rename(text: str, old: str, new: str) -> str:
    """Rename a Typer variable: its definition, its decorators and its continuation indent."""
    if old == new:
        return text
    lines = text.split("\n")
    out = []
    shift = len(old) - len(new)
    in_def = False
    depth = 0
    for line in lines:
        if re.match(rf"^{old} = typer\.Typer\(", line):
            line = new + line[len(old):]
            depth = line.count("(") - line.count(")")
            in_def = depth > 0
        elif in_def:
            if shift > 0 and line.startswith(" " * shift):
                line = line[shift:]
            elif shift < 0:
                line = " " * -shift + line
            depth += line.count("(") - line.count(")")
            in_def = depth > 0
        line = re.sub(rf"^@{old}\.(command|callback)\(", rf"@{new}.\1(", line)
        out.append(line)
    return "\n".join(out)


def _space_top_level(text: str) -> str:
    """Two blank lines before each top-level def, decorator or Typer declaration."""
    out: list[str] = []
    for line in text.split("\n"):
        top = line.startswith(("@", "def ", "class ")) or re.match(r"^\w+ = typer\.Typer\(", line)
        if top and out:
            k = len(out) - 1
            while k >= 0 and out[k] == "":
                k -= 1
            if k >= 0 and not out[k].startswith(("@", "#")):
                out = out[:k + 1] + ["", ""]
        out.append(line)
    return "\n".join(out)


def convert(path: str) -> list[tuple[str, str]] | None:
    """Rewrite ``path`` in place; return [(variable, command name)] of its groups."""
    lines = open(path, encoding="utf-8").read().split("\n")
    span = _register_span(lines)
    if span is None:
        return None
    start, end = span
    body = lines[start + 1:end]
    if body and body[0].strip().startswith('"""') and body[0].strip().endswith('"""'):
        body = body[1:]
    groups: list[tuple[str, str]] = []
    decorate: dict[str, str] = {}  # app.command("x")(fn), fn defined elsewhere → @app.command
    kept: list[str] = []
    for line in body:
        m = re.match(r'^    app\.add_typer\((\w+), name="([^"]+)"\)$', line)
        if m:
            groups.append((m.group(1), m.group(2)))
            continue
        m = re.match(r'^    app\.command\("([^"]+)"\)\((\w+)\)$', line)
        if m:
            decorate[m.group(2)] = m.group(1)
            continue
        kept.append(line[4:] if line.startswith("    ") else line)
    text = "\n".join(kept).strip("\n")
    rest = "\n".join(lines[:start] + ["<<BODY>>"] + lines[end:])
    for fn, command in decorate.items():
        rest = re.sub(rf"^def {fn}\(", f'@app.command("{command}")\ndef {fn}(', rest, flags=re.M)
    has_top = "@app.command(" in text or bool(decorate)
    if has_top:
        text = TOP_APP + "\n\n\n" + text
    if not has_top and len(groups) == 1:
        renames = {groups[0][0]: "app"}
    else:
        renames = {var: name.replace("-", "_") for var, name in groups}
    joined = rest.replace("<<BODY>>", text)
    for old, new in renames.items():
        joined = _rename(joined, old, new)
    joined = _space_top_level(joined)
    joined = re.sub(r"\n{4,}", "\n\n\n", joined).rstrip("\n") + "\n"
    open(path, "w", encoding="utf-8").write(joined)
    return [(renames.get(var, var), name) for var, name in groups]


if __name__ == "__main__":
    for name in sys.argv[1:]:
        found = convert(name)
        if found is not None:
            print(f"{name}: groups {found}")
