"""D0 and the defaults of a run are defined once (theory/defaults.py): no other library
module spells D0's parameters or a run default as a literal."""

from __future__ import annotations

import ast
from pathlib import Path

import modspec as ms
from modspec.theory import defaults
from modspec.validation.defaults import VALIDATE

ROOT = Path(__file__).resolve().parents[1]
#: Modules other sessions are rewriting, that still spell ``hidden = 50`` or D0's keys.
NOT_YET_MOVED: set[str] = set()
RUN = {"hidden": 50, "init_std": 2e-4}


def literals(tree: ast.AST) -> list[str]:
    """D0 spelled out (a dict or call with nx=3, ny=1, kx=3, ky=1) and run defaults given as
    numbers (a parameter, field, keyword or ``default=`` of ``hidden``/``init_std`` equal to
    50/2e-4)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            pairs = {ast.unparse(k).strip("'\""): ast.unparse(v) for k, v in
                     zip(node.keys, node.values, strict=True) if k is not None}
            if {k: pairs.get(k) for k in ("nx", "ny", "kx", "ky")} == \
                    {"nx": "3", "ny": "1", "kx": "3", "ky": "1"}:
                found.append(ast.unparse(node))
        if isinstance(node, ast.Call):
            kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
            if {k: kw.get(k) for k in ("nx", "ny", "kx", "ky")} == \
                    {"nx": "3", "ny": "1", "kx": "3", "ky": "1"}:
                found.append(ast.unparse(node))
            flag = ast.unparse(node.args[0]) if node.args else ""
            for name, value in RUN.items():
                if flag.strip("'\"") == "--" + name.replace("_", "-") and \
                        kw.get("default") == repr(value) or kw.get(name) == repr(value):
                    found.append(ast.unparse(node))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults,
                             strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                      if d is not None]
            for arg, default in pairs:
                if isinstance(default, ast.Constant) and arg.arg in RUN and \
                        RUN[arg.arg] == default.value:
                    found.append(f"{node.name}({arg.arg}={default.value})")
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                isinstance(node.value, ast.Constant) and node.target.id in RUN and \
                RUN[node.target.id] == node.value.value:
            found.append(ast.unparse(node))
    return found


def test_d0_and_the_run_defaults_are_spelled_once():
    offenders = {}
    for pkg in ("theory", "numerics", "validation", "modspec"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in NOT_YET_MOVED or rel == "theory/defaults.py":
                continue
            found = literals(ast.parse(path.read_text(encoding="utf-8")))
            if found:
                offenders[rel] = found
    assert offenders == {}


def test_the_literal_check_sees_each_spelling():
    for src in ['D = {"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1}',
                "ds = CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)",
                "def f(x, hidden=50): pass", "def f(*, init_std: float = 2e-4): pass",
                "class C:\n    hidden: int = 50",
                'p.add_argument("--hidden", type=int, default=50)',
                "run = simulate(ds, net, hidden=50, seeds=2)"]:
        assert literals(ast.parse(src)), src
    assert not literals(ast.parse("def f(hidden=HIDDEN, init_std=1e-3): pass"))


def test_the_defaults_are_the_documented_numbers():
    assert dict(defaults.D0) == {"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1}
    assert ms.CompositionalDataset(**defaults.D0).P == 8
    assert (defaults.HIDDEN, defaults.INIT_STD, defaults.LR, defaults.EPOCHS,
            defaults.SEEDS, defaults.SEED) == (50, 2e-4, 0.005, 2400, 3, 0)
    assert {k: VALIDATE[k] for k in ("lr", "epochs", "hidden", "init_std", "seeds", "seed")} \
        == {"lr": 0.005, "epochs": 2400, "hidden": 50, "init_std": 2e-4, "seeds": 3, "seed": 0}
