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


def module_imports(path: Path, package: str) -> set[str]:
    """The modules of ``modspec.<package>`` that the file at ``path`` imports when it runs,
    at module level or inside functions (``from . import x`` names the module ``x``); imports
    under ``if TYPE_CHECKING:`` are for type checkers only and are left out."""
    prefix = f"modspec.{package}"
    modules = {p.stem for p in (ROOT / package).glob("*.py")} | {
        p.name for p in (ROOT / package).iterdir() if (p / "__init__.py").is_file()}
    try:    # the file's own package: a subpackage's relative imports start there
        here = [prefix, *path.parent.relative_to(ROOT / package).parts]
    except ValueError:
        here = [prefix]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = here[: max(1, len(here) - node.level + 1)]
                base = ".".join(filter(None, [*up, node.module]))
            if base == prefix:
                found.update(f"{prefix}.{a.name}" for a in node.names if a.name in modules)
            elif base.startswith(prefix + "."):
                found.add(".".join(base.split(".")[:3]))
        elif isinstance(node, ast.Import):
            found.update(".".join(a.name.split(".")[:3]) for a in node.names
                         if a.name.startswith(prefix + "."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of more than one
    module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def import_graph(package: str) -> dict[str, set[str]]:
    """Module → the modules it imports; a subpackage is one node (all its files' imports)."""
    graph = {f"modspec.{package}.{p.stem}": module_imports(p, package) - {f"modspec.{package}"}
             for p in sorted((ROOT / package).glob("*.py")) if p.stem != "__init__"}
    for sub in sorted(p for p in (ROOT / package).iterdir() if (p / "__init__.py").is_file()):
        name = f"modspec.{package}.{sub.name}"
        graph[name] = set().union(*(module_imports(f, package) for f in sub.rglob("*.py"))) \
            - {f"modspec.{package}", name}
    return graph


def test_the_theory_package_has_no_import_cycles():
    """Every import of a theory module, inside functions too, points to a module that does not
    import it back, directly or through others."""
    assert cycles(import_graph("theory")) == []


def test_the_cycle_check_sees_function_level_and_relative_imports(tmp_path):
    source = ("from typing import TYPE_CHECKING\nfrom . import latex\n"
              "if TYPE_CHECKING:\n    from .spectra import Mode\n"
              "def f():\n    from .families import domain\n"
              "    import modspec.theory.rules.x\n")
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    assert module_imports(path, "theory") == {"modspec.theory.latex",
                                              "modspec.theory.families",
                                              "modspec.theory.rules"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_subpackage_is_one_node_and_its_relative_imports_resolve_from_it():
    """``theory/families/contexts.py``: ``from .. import contexts`` is the theory module,
    ``from .registry import …`` its own package (one node of the graph)."""
    path = ROOT / "theory" / "families" / "contexts.py"
    assert module_imports(path, "theory") == {"modspec.theory.contexts",
                                              "modspec.theory.families"}
    graph = import_graph("theory")
    assert "modspec.theory.contexts" in graph["modspec.theory.families"]
    assert "modspec.theory.families" not in graph["modspec.theory.families"]
