"""The arrows between packages only point down (docs/architecture.md), and no import circles.

Every ``import`` under ``src/centinela`` is read with ``ast``, the ones inside functions too: a
lazy import still makes the two modules depend on each other.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "centinela"
DOC = ROOT / "docs" / "architecture.md"


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name → (file, is a package ``__init__``)."""
    out = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target
            for a in node.names]


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, (path, is_pkg) in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(module, is_pkg, node):
                    found = _resolve(target) if target.startswith("centinela") else None
                    if found and found != module:
                        edges[module].add(found)
    return edges


GRAPH = _graph()


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "centinela"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def layers() -> dict[str, int]:
    """Package → layer, read from the table of docs/architecture.md."""
    out = {"centinela": 0}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| (\d+) \| ([^|]+) \|", line)
        if m:
            for name in re.findall(r"`(\w+)`", m.group(2)):
                assert name not in out, f"{name} is listed twice in docs/architecture.md"
                out[name] = int(m.group(1))
    return out


def test_no_import_cycles_between_modules():
    assert _cycles(GRAPH) == []


def test_every_package_is_placed_in_a_layer_of_the_map():
    placed = layers()
    assert {package(m) for m in MODULES} == set(placed), (
        "docs/architecture.md must list every package of src/centinela exactly once")


def test_arrows_only_point_down_or_sideways():
    placed = layers()
    upward = sorted(
        f"{a} ({placed[package(a)]}) → {b} ({placed[package(b)]})"
        for a, targets in GRAPH.items() for b in targets
        if placed[package(b)] > placed[package(a)])
    assert upward == []
    by_package: dict[str, set[str]] = defaultdict(set)
    for a, targets in GRAPH.items():
        by_package[package(a)] |= {package(b) for b in targets} - {package(a)}
    assert _cycles(by_package) == []


def test_named_rules():
    def imports(src: str, dst: str) -> list[str]:
        return sorted(f"{a} → {b}" for a, targets in GRAPH.items() if package(a) == src
                      for b in targets if package(b) == dst)

    assert imports("ledger", "ingest") == []
    assert imports("detect", "web") == []
    lib_uses = sorted({package(b) for a, t in GRAPH.items() if package(a) == "lib" for b in t})
    assert lib_uses in ([], ["lib"])


def _string_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
            node.func, "id", "")
        if name not in ("import_module", "__import__", "find_spec"):
            continue
        arg = node.args[0]
        text = arg.value if isinstance(arg, ast.Constant) else (
            arg.values[0].value if isinstance(arg, ast.JoinedStr) and arg.values
            and isinstance(arg.values[0], ast.Constant) else None)
        if isinstance(text, str) and text.startswith("centinela"):
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            found.append(f"{where}:{node.lineno}: {name}({text!r})")
    return found


def test_no_string_imports_of_first_party_modules():
    assert [hit for path, _ in MODULES.values() for hit in _string_imports(path)] == []


def test_the_checker_sees_what_it_must(tmp_path):
    """The parser finds lazy imports, circles and string imports (no vacuous pass)."""
    assert "centinela.ledger.records" in GRAPH["centinela.ledger.transfers"]
    assert "centinela.detect.realtime" in GRAPH["centinela.wiring"]  # imported inside install()
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    probe = tmp_path / "probe.py"
    probe.write_text('import importlib\nimportlib.import_module("centinela.detect.realtime")\n'
                     'importlib.import_module(f"centinela.{probe}")\n', encoding="utf-8")
    assert len(_string_imports(probe)) == 2
