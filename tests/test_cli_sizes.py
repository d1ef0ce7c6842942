"""``modspec derive`` at any size: bad sizes and scales are one line and status 2 before any
work; a numeric size answers through the Walsh atoms as fast as the smallest; output is
strict JSON that plain ``sympy.sympify`` reads."""

from __future__ import annotations

import json
import time

import pytest
import sympy as sp


@pytest.mark.parametrize("argv, param", [
    (["--nx", "1000000"], "nx"), (["--nx", "10000000000"], "nx"), (["--depth", "100"], "depth"),
    (["--r", "1e300"], "r"), (["--rx", "1e-300"], "rx"), (["--ry", "1e200"], "ry"),
    (["--kx", str(10**90)], "kx"), (["--ny", "-1"], "ny"),
])
def test_derive_refuses_bad_sizes_and_scales_with_one_line_and_status_2(run_cli, capsys, argv,
                                                                        param):
    start = time.perf_counter()
    code, out, err = run_cli(capsys, "derive", "--no-cache", *argv)
    assert time.perf_counter() - start < 2.0
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and param in err and "Traceback" not in err


def _strict(text):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def test_derive_at_nx_16_answers_within_three_times_nx_3(run_cli, capsys):
    run_cli(capsys, "derive", "--no-cache", "--nx", "3", "--format", "json")   # imports, caches
    times = {}
    for nx in ("3", "16"):
        start = time.perf_counter()
        code, out, _ = run_cli(capsys, "derive", "--no-cache", "--nx", nx, "--format", "json")
        times[nx] = time.perf_counter() - start
        assert code == 0
    assert times["16"] < 3 * times["3"], times
    modes = _strict(out)["modules"][0]["modes"]
    assert [m["multiplicity"] for m in modes] == [1, 15, 2**16 - 16]


def test_derive_at_the_largest_size_is_strict_json_with_finite_numbers(run_cli, capsys):
    code, out, _ = run_cli(capsys, "derive", "--no-cache", "--nx", "255", "--format", "json")
    assert code == 0
    payload = _strict(out)
    assert payload["modules"][0]["modes"][2]["multiplicity"] == 2**255 - 255
    assert 0 < payload["modules"][0]["modes"][2]["s"] < 1e-70


def _strings(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key not in ("dataset", "label", "name", "architecture", "method", "note",
                           "inputs", "outputs"):
                yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)
    elif isinstance(obj, str):
        yield obj


@pytest.mark.parametrize("arch, depth", [("dense", "1"), ("dense", "2"), ("dense", "3"),
                                         ("shallow", "1"), ("split", "2"), ("segregated", "2"),
                                         ("leaky", "2"), ("split", "3")])
def test_every_symbolic_string_of_derive_json_reads_back_with_plain_sympify(run_cli, capsys,
                                                                             arch, depth):
    # split, segregated and leaky name their weights W_{A,1}, W_{B,2}^{Oy} and covariances
    # Sigma_yx^{Oy,A}: printed W_A,1 (and so on) they did not parse (issue 23)
    args = ["--arch", arch] + ([] if arch == "shallow" else ["--depth", depth])
    code, out, _ = run_cli(capsys, "derive", "--symbolic", *args, "--format", "json")
    assert code == 0
    payload = _strict(out)
    texts = list(_strings(payload))
    assert len(texts) >= 15
    for text in texts:
        sp.sympify(text)
    from modspec.theory.architectures import architecture
    from modspec.theory.matrix_flow import matrix_flow
    from modspec.theory.symbols import text_name

    network = architecture(arch, int(depth))
    flow = matrix_flow(network)
    for module in network.modules:
        odes = payload["dynamics"][module.name]["matrix_odes"]
        weights = flow.weights[module.name]
        assert len(odes) == len(weights)
        for ode, weight in zip(odes, weights, strict=True):
            lhs = sp.sympify(ode).lhs        # tau*Derivative(W, t), W in its text name
            (derivative,) = lhs.atoms(sp.Derivative)
            assert str(derivative.expr) == text_name(weight.name)


def test_symbolic_derive_json_states_its_domain_and_where_each_mode_exists(run_cli, capsys):
    code, out, _ = run_cli(capsys, "derive", "--symbolic", "--format", "json")
    assert code == 0
    validity = _strict(out)["validity"]
    d0 = {"nx": 3, "ny": 1, "kx": 3, "ky": 1, "rx": 1, "ry": 1}
    assert all(sp.sympify(rel).subs(d0) for rel in validity["domain"])
    assert not sp.And(*map(sp.sympify, validity["domain"])).subs(d0 | {"nx": 256})
    exists = {k: bool(sp.sympify(c).subs(d0 | {"kx": 0})) for k, c in validity["modes"].items()}
    assert exists == {"pi1": True, "pi2": True, "pi3": False}
