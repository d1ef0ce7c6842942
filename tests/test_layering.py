"""The layers depend one way, ``validation → numerics → theory``, and light modules stay light.

Every import statement of the product is read (module level and inside functions alike):
theory imports neither numerics nor validation nor PyTorch; numerics imports neither
validation nor PyTorch. A planted import shows the check can fail.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "theory": ("modspec.numerics", "modspec.validation", "torch"),
    "numerics": ("modspec.validation", "torch"),
}


def imported(source: str, package: str) -> set[str]:
    """Absolute names of every module ``source`` imports (relative imports resolved inside
    ``modspec.<package>``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
            else:
                base = ["modspec", package][: max(0, 3 - node.level)]
                names.add(".".join([*base, *([node.module] if node.module else [])]))
    return names


def violations(folder: str) -> list[str]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in imported(path.read_text(), folder):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[folder]):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_lower_layers_never_import_higher_ones_or_torch(folder):
    assert violations(folder) == []


def test_the_check_sees_imports_inside_functions_and_relative_ones():
    source = ("def f():\n    import torch\n    from ..validation import training\n"
              "from .codegen import generate\n")
    assert imported(source, "numerics") >= {"torch", "modspec.validation",
                                            "modspec.numerics.codegen"}


@pytest.mark.parametrize("module", ["modspec", "modspec.numerics.record",
                                    "modspec.theory.errors", "modspec.numerics"])
def test_light_modules_import_neither_sympy_nor_torch(module):
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('sympy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
