"""Code generation: readable source, CSE, batch-safe matrix code, a cache whose code is only
imported when it is intact and private, backends."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from modspec.numerics import cache, codegen
from modspec.numerics.codegen import generate, symengine_available
from modspec.theory import cache as disk
from modspec.theory import symbols as sy
from modspec.theory.errors import ModspecError


def _unique(tag: str) -> sp.Symbol:
    """A symbol that makes an expression (and so its cache key) unique to one test."""
    return sp.Symbol(f"c_{tag}_{os.getpid()}_{np.random.default_rng().integers(1 << 40)}")


def test_generated_source_lists_arguments_units_and_temporaries():
    c = _unique("hdr")
    e = sp.exp(-sy.s * sy.t / sy.tau) * c
    g = generate({"a": e + sp.sqrt(e), "b": e**2}, [sy.t, sy.tau, sy.s, c], name="demo",
                 units={"t": "epochs"}, description="demo expression")
    assert "Arguments, in order" in g.source and "epochs" in g.source
    assert "demo expression" in g.source
    assert "x0 = " in g.source                       # CSE temporary
    assert g.args == ("t", "tau", "s", c.name)
    a, b = g(np.array([0.0, 1.0]), 2.0, 1.0, 3.0)
    ref = 3.0 * np.exp(-np.array([0.0, 1.0]) / 2.0)
    np.testing.assert_allclose(a, ref + np.sqrt(ref), rtol=1e-15)
    np.testing.assert_allclose(b, ref**2, rtol=1e-15)


def test_python_keyword_symbols_are_renamed():
    c = _unique("kw")
    g = generate({"f": sy.s / sy.lam + c}, [sy.s, sy.lam, c])
    assert "lambda_" in g.args
    assert g(2.0, 4.0, 0.0)[0] == 0.5


def test_matrix_code_uses_matmul_and_is_safe_on_stacked_batches():
    W1 = sp.MatrixSymbol("W1", 6, 4)
    W2 = sp.MatrixSymbol("W2", 3, 6)
    G = sp.MatrixSymbol("G", 3, 4)
    g = generate({"d1": W2.T * G, "d2": G * W1.T, "M": W2 * W1}, [W1, W2, G], name="grads")
    assert "@" in g.source and "swapaxes" in g.source and ".dot" not in g.source
    rng = np.random.default_rng(0)
    w1, w2, gg = rng.normal(size=(5, 6, 4)), rng.normal(size=(5, 3, 6)), rng.normal(size=(5, 3, 4))
    d1, d2, M = g(w1, w2, gg)
    for k in range(5):                               # stacked equals looped
        np.testing.assert_allclose(d1[k], w2[k].T @ gg[k], rtol=1e-14)
        np.testing.assert_allclose(d2[k], gg[k] @ w1[k].T, rtol=1e-14)
        np.testing.assert_allclose(M[k], w2[k] @ w1[k], rtol=1e-14)


def test_missing_argument_is_a_user_error():
    with pytest.raises(ModspecError, match="missing"):
        generate({"f": sy.s * sy.t}, [sy.t])


def test_cache_entry_is_written_and_corrupt_or_stale_entries_are_regenerated():
    c = _unique("cache")
    expr = {"f": sy.s * c}
    g1 = generate(expr, [sy.s, c], name="cached")
    path = cache.entry_path("codegen", g1.key)
    assert path.exists() and not g1.from_cache
    assert cache.read("codegen", g1.key) == g1.source
    for damage in ("garbage", "# modspec-cache key=é sha256=ü\nx = 1\n",
                   path.read_text().replace("return", "retrun")):
        codegen._memory.pop(g1.key, None)
        path.write_text(damage)                       # corrupt / stale body
        g2 = generate(expr, [sy.s, c], name="cached")
        assert not g2.from_cache and g2(2.0, 3.0)[0] == 6.0
        assert cache.read("codegen", g1.key) == g1.source  # rewritten
    # a damaged entry whose digest still matches (hand-edited with a valid header) fails to
    # load: it is discarded and regenerated, never a crash
    codegen._memory.pop(g1.key, None)
    cache.write("codegen", g1.key, "this is not python(")
    g3 = generate(expr, [sy.s, c], name="cached")
    assert g3(1.0, 5.0)[0] == 5.0


def _payload_module(g, pwned):
    """The generated source of ``g`` with a line that would create ``pwned`` if imported."""
    return f"open({str(pwned)!r}, 'w').close()\n" + g.source


def test_an_edited_generated_module_fails_its_checksum_and_is_never_imported(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv(disk.ENV, str(tmp_path / "cache"))
    pwned = tmp_path / "PWNED"
    c = _unique("edit")
    g1 = generate({"f": 3 * c}, [c], name="edited")
    path = cache.entry_path("codegen", g1.key)
    header = path.read_text().partition("\n")[0]
    assert header.startswith(f"# modspec-cache key={g1.key} sha256=")
    path.write_text(header + "\n" + _payload_module(g1, pwned))    # body edited, header kept
    codegen._memory.pop(g1.key, None)
    g2 = generate({"f": 3 * c}, [c], name="edited")
    assert not pwned.exists() and not g2.from_cache and g2(2.0)[0] == 6.0
    assert cache.read("codegen", g1.key) == g1.source                 # regenerated on disk
    # an intact entry stored under another key is not taken either
    other = cache.content_key("another key")
    path.write_text(path.read_text().replace(g1.key, other, 1))
    assert cache.read("codegen", g1.key) is None


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_generated_code_in_a_folder_others_can_write_is_refused_not_imported(tmp_path,
                                                                             monkeypatch, depth):
    monkeypatch.setenv(disk.ENV, str(tmp_path / "cache"))
    pwned = tmp_path / "PWNED"
    c = _unique("shared")
    g1 = generate({"f": 3 * c}, [c], name="shared")
    cache.write("codegen", g1.key, _payload_module(g1, pwned))        # a valid checksum
    codegen._memory.pop(g1.key, None)
    folder = cache.entry_path("codegen", g1.key).parents[2 - depth]   # root, codegen/, xx/
    folder.chmod(0o777)
    with pytest.raises(ModspecError, match="not be writable by group or others") as err:
        generate({"f": 3 * c}, [c], name="shared")
    assert str(folder) in str(err.value) and "\n" not in str(err.value)
    assert not pwned.exists()


def test_disabled_cache_generates_without_touching_the_disk(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv(disk.ENV, str(root))
    c = _unique("off")
    with disk.disabled():
        g = generate({"f": c + 1}, [c], name="off")
    assert g(1.0)[0] == 2.0 and not g.from_cache
    assert not root.exists()


def test_second_process_reads_generated_code_from_the_cache(tmp_path):
    script = (
        "import sympy as sp\n"
        "from modspec.numerics.codegen import generate\n"
        "x, y = sp.symbols('x y')\n"
        "g = generate({'f': sp.exp(x) * sp.sin(y) + sp.exp(x) ** 2}, [x, y], name='twice')\n"
        "print(g.from_cache, float(g(0.0, 0.0)[0]))\n"
    )
    env = {**os.environ, "MODSPEC_CACHE_DIR": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, check=True).stdout.split()
    assert first == ["False", "1.0"] and second == ["True", "1.0"]


def test_unwritable_cache_folder_does_not_fail(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MODSPEC_CACHE_DIR", str(blocker))
    c = _unique("ro")
    g = generate({"f": 2 * c}, [c])
    assert g(4.0)[0] == 8.0


@pytest.mark.skipif(not symengine_available(), reason="symengine not installed")
def test_symengine_backend_agrees_with_numpy():
    e = {"f": sp.sqrt(sy.s) * sp.exp(-sy.lam * sy.t) + sy.s**2, "g": sy.s * sy.lam}
    args = [sy.t, sy.s, sy.lam]
    a = generate(e, args, backend="symengine")
    b = generate(e, args)
    t = np.linspace(0, 3, 7)[:, None]
    for x, y in zip(a(t, 2.0, np.array([0.5, 1.0])), b(t, 2.0, np.array([0.5, 1.0])),
                    strict=True):
        np.testing.assert_allclose(x, np.broadcast_to(y, x.shape), rtol=1e-13)


def test_rationals_past_int64_print_as_correctly_rounded_floats():
    """A float given with many digits is an exact rational p/10¹⁶ (theory.dataset.exact);
    its powers under a root used to reach numpy.sqrt as Python ints past int64 (issue 22)."""
    from modspec.theory.dataset import exact

    r = exact(1.2345678901234567)
    x = sp.Symbol("x", positive=True)
    exprs = {"root": 3 * sp.sqrt(r**8 * 7 + 1) / 8, "ratio": r**4 / 3, "scaled": x * r**6,
             "small": sp.Rational(3, 7) * x}
    g = codegen.generate(exprs, [x], name="big_rationals", use_cache=False)
    out = g.as_dict(np.array([1.0, 2.0]))
    for key, e in exprs.items():
        want = [float(e.subs(x, v).evalf(30)) for v in (1.0, 2.0)]
        np.testing.assert_allclose(out[key], want, rtol=4e-16, err_msg=key)
    assert "3/7" in g.source                  # small rationals keep their exact form
    with pytest.raises(ModspecError, match="float range"):
        codegen.generate({"huge": x * sp.Integer(10) ** 400}, [x], use_cache=False)
