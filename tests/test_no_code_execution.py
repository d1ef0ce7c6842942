"""No input runs code: every kind of name and value that reaches generated code, a printer or
a cache is planted with a payload that would create a file if it ran. Each is refused in one
line (exit status 2 on the command line) or read as data; the file is never created.

Payload kinds: dataset block names (input and output), family parameters, sweep grid values,
rule names and coefficient symbols, expression trees in the derivation cache (with a valid,
keyed checksum: the second wall), generated code planted in the code cache, and expression
text given to :func:`modspec.theory.symbols.parse`.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import sympy as sp

import modspec as ms
from modspec.numerics import cache as code_cache
from modspec.numerics import codegen
from modspec.theory import cache
from modspec.theory import symbols as sy
from modspec.theory.errors import ModspecError

ROOT = Path(__file__).resolve().parents[1]


def payload(marker: Path) -> str:
    """Python that creates ``marker`` when executed, wrapped to escape a docstring."""
    return f'y"""\nimport os; open({str(marker)!r}, "w").write("ran")\n"""'


def one_line_refusal(code: int, out: str, err: str) -> None:
    assert code == 2, (code, out, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


DECLARED = """
family = "declared"
space = {{kind = "hypercube", n = 3}}
inputs = [{{name = {inp}, kind = "features"}},
          {{name = "id", kind = "identity", copies = 1, scale = 0.5}}]
outputs = [{{name = {out}, kind = "features", indices = [0]}},
           {{name = "xor", kind = "parities", subsets = [[0, 1]]}}]
"""

COMMANDS = {
    "derive": [],
    "predict": ["--lr", "0.01", "--epochs", "3"],
    "simulate": ["--lr", "0.01", "--epochs", "3", "--seeds", "1"],
    "validate": ["--lr", "0.01", "--epochs", "3", "--seeds", "1"],
}


@pytest.mark.parametrize("side", ["inputs", "outputs"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_block_name_that_escapes_a_docstring_is_refused_and_never_runs(
        tmp_path, capsys, run_cli, command, side):
    marker = tmp_path / "ran"
    evil = json.dumps(payload(marker))
    text = DECLARED.format(inp=evil if side == "inputs" else '"x"',
                           out=evil if side == "outputs" else '"y"')
    path = tmp_path / "ds.toml"
    path.write_text(text)
    extra = ["--out", str(tmp_path / "out")] if command == "validate" else []
    code, out, err = run_cli(capsys, command, "--dataset", str(path), *COMMANDS[command], *extra)
    one_line_refusal(code, out, err)
    assert "block name" in err
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("family, field", [
    ("compositional", "nx"), ("compositional", "r"), ("hierarchical", "levels"),
    ("hierarchical", "branching"), ("hierarchical", "features"), ("hierarchical", "r"),
    ("contexts", "C"), ("contexts", "rc"),
])
def test_family_parameters_given_as_code_are_refused_not_parsed(tmp_path, capsys, run_cli,
                                                                family, field):
    marker = tmp_path / "ran"
    values = {"compositional": {"nx": 3, "ny": 1, "kx": 3, "ky": 1, "r": 1},
              "hierarchical": {"levels": 3, "branching": 2, "features": 1, "r": 1.0},
              "contexts": {"C": 3, "r": 1.0, "rc": 1.1}}[family]
    values[field] = f"__import__('os').system('touch {marker}')"
    text = f'family = "{family}"\n' + "".join(f"{k} = {json.dumps(v)}\n"
                                              for k, v in values.items())
    path = tmp_path / "ds.toml"
    path.write_text(text)
    code, out, err = run_cli(capsys, "predict", "--dataset", str(path), "--lr", "0.01",
                             "--epochs", "2")
    one_line_refusal(code, out, err)
    assert field in err
    assert not marker.exists()


def test_family_parameters_given_as_text_in_python_are_refused_not_parsed(tmp_path):
    from modspec.theory.families import hierarchical_levels

    marker = tmp_path / "ran"
    code = f"__import__('os').system('touch {marker}')"
    for kwargs in ({"levels": code}, {"branching": code}, {"features": code}, {"r": code}):
        with pytest.raises(ModspecError, match=next(iter(kwargs))):
            hierarchical_levels(**kwargs)
    assert not marker.exists()


@pytest.mark.parametrize("where", ["dataset", "run"])
def test_sweep_grid_values_given_as_code_are_refused_before_any_point(tmp_path, capsys,
                                                                     run_cli, where):
    marker = tmp_path / "ran"
    code = f"__import__('os').system('touch {marker}')"
    dataset = {"nx": 3, "ny": 1, "kx": [1, 2], "ky": 1, "r": 1.0}
    run = {"arch": "dense", "lr": 0.05, "epochs": 5, "seeds": 1, "compute": ["theory"]}
    (dataset if where == "dataset" else run)["kx" if where == "dataset" else "lr"] = [1, code]
    grid = tmp_path / "grid.toml"
    grid.write_text("[dataset]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in
                                            dataset.items())
                    + "[run]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in run.items()))
    store = tmp_path / "store.jsonl"
    code_, out, err = run_cli(capsys, "sweep", str(grid), "--out", str(store), "--workers", "0")
    one_line_refusal(code_, out, err)
    assert not marker.exists()
    assert not store.exists()


def test_rule_names_and_coefficient_symbols_must_be_plain_names(tmp_path):
    from modspec.theory import rules as r

    marker = tmp_path / "ran"
    evil = payload(marker)
    kappa = sp.Symbol("kappa")
    with pytest.raises(ModspecError, match="rule name"):
        r.Rule(evil, (r.Term(1, -kappa * r.W1),), {kappa: 1e-3})
    with pytest.raises(ModspecError, match="rule name"):
        r.study_rule(evil)
    bad_symbol = sp.Symbol(evil)
    with pytest.raises(ModspecError, match="rule coefficient"):
        r.Rule("decay", (r.Term(1, -bad_symbol * r.W1),), {bad_symbol: 1e-3})
    # a well-named rule still works, hyphens included
    assert r.Rule("weight-decay", (r.Term(1, -kappa * r.W1),), {kappa: 1e-3}).name
    assert not marker.exists()


def test_a_rule_run_with_a_payload_symbol_never_reaches_the_simulator(tmp_path, d0):
    from modspec.theory import rules as r

    marker = tmp_path / "ran"
    with pytest.raises(ModspecError):
        ms.simulate(d0, ms.architectures.dense(), lr=0.01, epochs=2, seeds=1,
                    rule=r.Rule("decay", (r.Term(1, -sp.Symbol(payload(marker)) * r.W1),),
                                {sp.Symbol(payload(marker)): 1e-3}))
    assert not marker.exists()


def test_generated_docstrings_carry_any_text_as_data(tmp_path):
    marker = tmp_path / "ran"
    x = sp.Symbol("x")
    gen = codegen.generate({payload(marker): x**2}, [x], name="f",
                           description=payload(marker) + "\\ \x00 \u2028",
                           units={"x": payload(marker)}, use_cache=False)
    assert gen(3.0) == (9.0,)
    assert not marker.exists()
    module_doc = ast.get_docstring(ast.parse(gen.source))
    assert payload(marker).splitlines()[0] in module_doc   # kept as text, escaped
    tree = ast.parse(gen.source)
    assert [type(n).__name__ for n in tree.body] == ["Expr", "Import", "FunctionDef"]


@pytest.mark.parametrize("bad_name", ['a"""b', "x; import os", "a b", "__class__", "1x"])
def test_code_generation_refuses_symbols_it_cannot_print_as_identifiers(bad_name):
    s = sp.Symbol(bad_name)
    y = sp.Symbol("y")
    # not an argument (an argument is renamed to a safe identifier): printed as is, so refused
    with pytest.raises(ModspecError, match="expression symbol"):
        codegen.render("f", {"out": sp.Sum(y * s, (s, 1, 3))}, [y])
    # as an argument it is renamed: the generated code is valid and safe
    gen = codegen.generate({"out": 2 * s}, [s], use_cache=False)
    assert gen(2.0) == (4.0,)


def test_code_generation_refuses_undefined_functions():
    x = sp.Symbol("x")
    with pytest.raises(ModspecError, match="expression function"):
        codegen.render("f", {"out": sp.Function("os.system")(x)}, [x])


def test_a_code_cache_entry_planted_without_the_cache_key_is_never_imported(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    marker = tmp_path / "ran"
    x = sp.Symbol("x")
    first = codegen.generate({"out": x + 1}, [x], name="planted_probe")
    path = code_cache.entry_path("codegen", first.key)
    body = f"open({str(marker)!r}, 'w').write('ran')\n\ndef planted_probe(x):\n    return (x,)\n"
    # the old scheme: a plain SHA-256 of key and body, which anyone can compute
    digest = code_cache.content_key("modspec-cache-entry", first.key, body)
    path.write_text(f"# modspec-cache key={first.key} sha256={digest}\n{body}")
    codegen._memory.clear()
    again = codegen.generate({"out": x + 1}, [x], name="planted_probe")
    assert not again.from_cache
    assert again(1.0) == (2.0,)
    assert not marker.exists()


def test_cached_trees_with_foreign_symbols_are_never_compiled(tmp_path, monkeypatch):
    """A derivation cache entry with a valid keyed checksum (as the user's own process could
    write) whose tree names a symbol that is code: checked against the derivation's own
    symbols before anything is compiled, treated as a miss and recomputed."""
    from modspec.theory import dynamics

    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    marker = tmp_path / "ran"
    evil = sp.Symbol(f"__import__('os').system('touch {marker}')")
    w = dynamics.w
    assert cache.store_expr({"what": "scaled_time", "depth": 3}, sp.log(w) + evil)
    G = dynamics.scaled_time.__wrapped__(3)
    assert evil not in G.free_symbols and G.free_symbols == {w}
    assert cache.store_expr({"what": "mode_solution", "depth": 2}, sy.a0 + evil * sy.t)
    a = dynamics.mode_solution.__wrapped__(2)
    assert evil not in a.free_symbols
    assert dynamics.check_solution(a, 2)
    assert not marker.exists()


def test_a_derivation_cache_entry_without_the_key_is_a_miss(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    key = {"what": "probe"}
    assert cache.store(key, [1, 2])
    path = cache.path_for(key)
    entry = json.loads(path.read_text())
    khash = cache.key_hash(key)
    text = json.dumps([khash, [3, 4]], sort_keys=True, separators=(",", ":"))
    entry.update(value=[3, 4], sha256=hashlib.sha256(text.encode()).hexdigest())
    path.write_text(json.dumps(entry))
    assert cache.load(key) is None


def test_the_cache_secret_is_private_and_a_readable_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    cache._secrets.clear()
    assert cache.secret() is not None
    path = tmp_path / "cache" / cache.SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    cache._secrets.clear()
    with pytest.raises(ModspecError, match="cache secret"):
        cache.secret()


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "open('x')", "x.__class__", "sympify('1')", "S('1')",
    "eval", "(lambda: 1)()", "x; y", "getattr(x, 'y')", "'text'",
])
def test_parse_reads_expressions_only(text):
    with pytest.raises(ModspecError, match="expression"):
        sy.parse(text)


def test_parse_still_reads_what_modspec_prints():
    expr = sp.sqrt(sy.lam) * sp.exp(-sy.t / sy.tau) + sy.kx * sy.rx**2 / 2**sy.nx
    assert sy.parse(sy.to_text(expr)) == expr
    assert sy.parse(str(expr)) == expr


def _calls(tree: ast.AST) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) \
                else ""
            out.append((name, node.lineno))
    return out


def test_the_product_evaluates_text_only_in_the_checked_places():
    """``exec`` only in the code generator's loader (checksummed, keyed cache or freshly
    rendered source), ``lambdify`` only behind :func:`checked_lambdify`, ``sympify`` of text
    only in :func:`parse` (after :func:`check_text`), and ``eval``/``parse_expr`` nowhere."""
    allowed = {"exec": {"numerics/codegen.py"}, "eval": set(), "parse_expr": set(),
               "lambdify": {"theory/names.py"}, "Lambdify": {"numerics/codegen.py"}}
    found: dict[str, set[str]] = {k: set() for k in allowed}
    for folder in ("modspec", "theory", "numerics", "validation"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            for name, _ in _calls(ast.parse(path.read_text())):
                if name in found:
                    found[name].add(rel)
    assert found == allowed
    text = (ROOT / "theory" / "symbols.py").read_text()
    assert "check_text(text)\n    return sp.sympify(text" in text
