"""One idea per module: no product module over 400 lines, no function over 60 (issue 19's
acceptance; docs/architecture.md). Held by a test so that growth shows in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "numerics", "validation", "modspec")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > limit]


def test_the_packages_are_found():
    assert len(_modules()) > 100


@pytest.mark.parametrize("pkg", PACKAGES)
def test_no_module_over_400_lines_and_no_function_over_60(pkg):
    long_modules, long_functions = [], []
    for path in _modules():
        if path.relative_to(ROOT).parts[0] != pkg:
            continue
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
        long_functions += [f"{path.relative_to(ROOT)}:{name} ({n} lines)"
                           for name, n in _long_functions(text, MAX_FUNCTION_LINES)]
    assert not long_modules, long_modules
    assert not long_functions, long_functions


def test_the_function_check_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert _long_functions(f"def f():\n{body}\n", MAX_FUNCTION_LINES) == [("f", 62)]
    assert _long_functions("def g():\n    return 1\n", MAX_FUNCTION_LINES) == []
