"""No code dispatches on a dataset family's name: every ``family == "…"``, ``family != "…"``
or ``family in ("…", …)`` in theory, numerics, validation or modspec is a failure (they ask
the dataset or the family registry, :mod:`modspec.theory.families`). A planted comparison
shows the check can fail."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: ``--network`` data files say ``family = "gated"``: a gated network's data, not a dataset
#: family of the registry (these two check that one word).
ALLOWED = {"modspec/commands/gated.py", "theory/gated_data.py", "validation/sweeps/gated.py"}


def _names_family(node: ast.AST) -> bool:
    """``family``, ``x.family``, ``getattr(x, "family", …)`` or ``x.get("family")``."""
    if isinstance(node, ast.Name):
        return node.id == "family"
    if isinstance(node, ast.Attribute):
        return node.attr == "family"
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) > 1:
            key = node.args[1]
        elif isinstance(func, ast.Attribute) and func.attr == "get" and node.args:
            key = node.args[0]
        else:
            return False
        return isinstance(key, ast.Constant) and key.value == "family"
    return False


def _is_text(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(_is_text(e) for e in node.elts)
    return False


def dispatches(source: str) -> list[int]:
    """Lines comparing a family with a name (or a collection of names)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if any(_names_family(s) for s in sides) and any(_is_text(s) for s in sides):
            out.append(node.lineno)
    return out


def test_no_module_dispatches_on_a_family_name():
    found = []
    for folder in ("theory", "numerics", "validation", "modspec"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ALLOWED:
                continue
            found += [f"{rel}:{line}" for line in dispatches(path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_check_sees_every_form_of_the_comparison():
    source = ('if family == "compositional":\n    pass\n'
              'x = p.family != "parity"\n'
              'y = getattr(ds, "family", "compositional") in ("hierarchical", "parity")\n'
              'z = spec.get("family") == "declared"\n'
              'ok = family == other\n')
    assert dispatches(source) == [1, 3, 4, 5]
