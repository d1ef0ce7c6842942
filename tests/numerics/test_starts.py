"""The one start policy (numerics/starts.py): each situation's function gives what the eight
places that decided starts before it gave (numbers pinned from that code on small runs), and
no other library module computes a start."""

import ast
from pathlib import Path

import numpy as np
import pytest

import modspec as ms
from modspec.numerics import starts
from modspec.numerics.flow import layout
from modspec.numerics.simulate import simulate
from modspec.theory import architectures as arch

D0 = ms.CompositionalDataset(3, 1, 3, 1)
ROOT = Path(__file__).resolve().parents[2]


def network(name):
    return arch.dense(3) if name == "dense3" else arch.architecture(name)


def small_run(name):
    return simulate(D0, network(name), 0.02, 2, hidden=6, init_std=3e-2, seeds=2, seed=4)


# ------------------------------------------------------------- an expected run not yet made
EXPECTED = {  # (depth, hidden, init_std): expectation.expected_a0 before starts.py
    (1, 50, 1e-3): 0.0, (2, 10, 1e-3): 4.9999999999999996e-06, (2, 50, 2e-4): 1e-06,
    (2, 50, 1e-8): 1e-12, (3, 10, 1e-3): 3.162277660168379e-08,
    (3, 50, 2e-4): 2.82842712474619e-09, (4, 50, 1e-3): 2.4999999999999996e-09,
    (4, 50, 2e-4): 4e-12, (4, 10, 2e-4): 1e-12,
}


@pytest.mark.parametrize("args", list(EXPECTED))
def test_expected_start_is_the_former_expected_a0(args):
    assert starts.expected(*args) == pytest.approx(EXPECTED[args], rel=1e-14, abs=0)


def test_given_a0_inverts_the_expected_two_layer_start():
    for a0, hidden in [(1e-6, 50), (3e-9, 7), (0.25, 1)]:
        assert starts.init_std_for(a0, hidden) == float(np.sqrt(2 * a0 / hidden))
        assert starts.expected(2, hidden, starts.init_std_for(a0, hidden)) == \
            pytest.approx(max(a0, starts.A0_FLOOR), rel=1e-12)


# ------------------------------------------------------------- a recorded run
RECORDED = {  # expectation.start_strengths before starts.py
    "shallow": {"pi1": 0.02402766789666528, "pi2": -0.008896723720850397,
                "pi3": -0.01449159544608263},
    "dense": {"pi1": 0.0028952238485970955, "pi2": 0.003767014987598946,
              "pi3": 0.0027313413152482502},
    "split": {"A:pi1": 0.0020561021588308827, "B:pi1+pi2": 0.0021802202803622725,
              "B:pi3": 0.003302802213953582},
    "dense3": {"pi1": 0.00047897219447978176, "pi2": 0.0005991537523622755,
               "pi3": 0.00030800880923041697},
}
#: expectation._starts of the depth-3 run: 20 starts per mode, their sums
DIRECTIONS = {"pi1": 0.006108673499403388, "pi2": 0.005633199163898542,
              "pi3": 0.002697710778368353}
EFFECTIVE = {  # simulate.effective_a0 of the runs' initial weights, per seed
    "shallow": {"pi1": [0.004198049078468952, 0.0438572867148616],
                "pi3": [-0.000732738286801471, -0.02825045260536379]},
    "dense": {"pi2": [0.0036103832930367208, 0.0039236466821611716]},
    "dense3": {"pi1": [0.0003914112291151995, 0.000566533159844364]},
}


@pytest.mark.parametrize("name", list(RECORDED))
def test_recorded_start_is_the_former_start_strengths(name):
    th, run = ms.derive(D0, network(name)), small_run(name)
    got = starts.recorded(th, run)
    assert got == pytest.approx(RECORDED[name], rel=1e-12)
    for key, values in EFFECTIVE.get(name, {}).items():
        np.testing.assert_allclose(run.a0[key], values, rtol=1e-12)
    deep = starts.recorded_directions(th, run)
    if name != "dense3":
        assert deep == got                      # one start per mode below depth 3
        return
    assert {k: np.shape(v) for k, v in deep.items()} == {k: (20,) for k in DIRECTIONS}
    assert {k: float(np.sum(v)) for k, v in deep.items()} == pytest.approx(DIRECTIONS,
                                                                          rel=1e-6)


def test_a_tiny_recorded_start_is_floored_except_at_depth_one():
    th = ms.derive(D0, arch.shallow())
    run = simulate(D0, arch.dense(), 0.02, 1, hidden=4, init_std=1e-12, seeds=1, seed=0)
    assert all(v == starts.A0_FLOOR for v in starts.recorded(ms.derive(D0, arch.dense()),
                                                             run).values())
    shallow = simulate(D0, arch.shallow(), 0.02, 1, init_std=1e-12, seeds=1, seed=0)
    assert all(abs(v) < 1e-11 and v != starts.A0_FLOOR
               for v in starts.recorded(th, shallow).values())


# the two-layer per-layer starts of rule_modes.rule_theory: (c1 == c2) of each mode
LAYERS = {"pi1": [[0.042399047726015146], [0.06318835691107406]],
          "pi2": [[0.06308646378447193, 0.05692859275657491],
                  [0.03292833710634727, 0.0822375703661842]]}


def test_layer_starts_are_the_former_rule_starts():
    lay = layout(D0, arch.dense(), 6)
    W1, W2 = starts.initial_weights(D0, arch.dense(), 6, 3e-2, 2, 4)[0]
    R = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0]
    for mode in lay.modules[0].spectrum.modes:
        U, V = np.asarray(mode.U, dtype=float), np.asarray(mode.V, dtype=float)
        c1, c2, aligned = starts.layer_starts(W1, W2, U, V)
        assert not aligned
        np.testing.assert_array_equal(c1, c2)
        if mode.label in LAYERS:
            np.testing.assert_allclose(c1, LAYERS[mode.label], rtol=1e-12)
        c = np.linspace(0.1, 0.2, U.shape[1])
        R_m = R[:, :U.shape[1]]
        c1, c2, aligned = starts.layer_starts(((R_m * c) @ V.T)[None], ((U * 2 * c) @ R_m.T)[None],
                                              U, V)
        assert aligned
        np.testing.assert_allclose(c1[0], c, rtol=1e-12)
        np.testing.assert_allclose(c2[0], 2 * c, rtol=1e-12)


def test_balanced_layers_are_the_square_root_of_a0():
    c1, c2 = starts.balanced_layers(np.array([4.0, 1e-12]))
    np.testing.assert_array_equal(c1, [2.0, 1e-6])
    c1[0] = 0.0
    assert c2[0] == 2.0                         # two arrays, not one


# ------------------------------------------------------------- seeded weights
SEEDED = {  # early.seeded_starts before starts.py
    (3, 6, 3e-2, 2, 4): {"pi1": 0.00027247095689677815, "pi2": 0.0002266876544064436,
                         "pi3": 5.2026882507785585e-05},
    (4, 5, 1e-1, 1, 0): {"pi1": 0.0012202491200681454, "pi2": 0.0005300893702660583,
                         "pi3": 1.8681715974794432e-05},
}


@pytest.mark.parametrize("args", list(SEEDED))
def test_seeded_start_is_the_former_seeded_starts(args):
    depth, *rest = args
    assert starts.seeded(D0, arch.dense(depth), *rest) == pytest.approx(SEEDED[args], rel=1e-6)


def test_expected_run_is_the_sweeps_former_policy():
    """validation/sweeps/run.py's ``_a0s``: the point's a0 when given, the seeded start for deep
    modes of a decoupled network, the expected start otherwise."""
    args = (6, 3e-2, 2, 4)
    assert starts.expected_run(D0, arch.dense(3), *args) == pytest.approx(
        SEEDED[(3, *args)], rel=1e-6)
    assert starts.expected_run(D0, arch.dense(), 6, 1e-3, 2, 4) == dict.fromkeys(
        RECORDED["dense"], 6e-6 / 2)
    assert starts.expected_run(D0, arch.leaky(3), 50, 2e-4, 1, 0) == pytest.approx(
        dict.fromkeys(starts.expected_run(D0, arch.leaky(3), 50, 2e-4, 1, 0),
                      EXPECTED[(3, 50, 2e-4)]), rel=1e-14)
    assert starts.expected_run(D0, arch.split(), 6, 1e-3, 2, 4, a0=3e-7) == dict.fromkeys(
        RECORDED["split"], 3e-7)


def test_former_names_still_resolve_to_the_one_policy():
    from modspec.numerics import early, expectation, rule_modes
    from modspec.numerics import simulate as sim

    assert early.seeded_starts is starts.seeded
    assert expectation.expected_a0 is starts.expected
    assert expectation.start_strengths is starts.recorded
    assert expectation.A0_FLOOR is starts.A0_FLOOR
    assert rule_modes.ALIGNED is starts.ALIGNED
    assert sim.effective_a0 is starts.effective_a0
    assert sim.initial_weights is starts.initial_weights


# ------------------------------------------------------------- nobody else computes a start
#: validation/sweeps/run.py still picks its points' starts (it is being rewritten to call
#: ``expect``); every other library module asks numerics/starts.py.
NOT_YET_MOVED = {"validation/sweeps/run.py"}


def _start_formulas(tree: ast.AST) -> list[str]:
    """What computes a start: the square root of ``2·a0/hidden`` (``init_std`` of a given
    ``a0``), ``|p + q|²/4`` (a two-layer start), a floor ``max(a0, 1e-12)`` or
    ``maximum(…, 1e-12)``, ``hidden · init_std²`` (an expected start), or a call of the free
    flow's per-direction starts."""
    found = []
    for node in ast.walk(tree):
        text = ast.unparse(node) if isinstance(node, (ast.Call, ast.BinOp)) else ""
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith(("maximum", "max")) and any(
                    isinstance(a, ast.Constant) and a.value == 1e-12 for a in node.args):
                found.append(text)
            if name.endswith("free_starts"):
                found.append(text)
            if name.endswith("sqrt") and "a0" in text and "hidden" in text:
                found.append(text)
        if isinstance(node, ast.BinOp):
            if "(p + q) ** 2" in text or "hidden * init_std ** 2" in text:
                found.append(text)
    return found


def test_no_other_library_module_computes_a_start():
    allowed = {"numerics/starts.py"} | NOT_YET_MOVED
    offenders = {}
    for pkg in ("theory", "numerics", "validation", "modspec"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in allowed:
                continue
            found = _start_formulas(ast.parse(path.read_text(encoding="utf-8")))
            if found:
                offenders[rel] = found
    assert offenders == {}


def test_the_start_detector_sees_the_formulas_it_forbids():
    sources = ["x = np.sqrt(2 * a0 / hidden)", "a0 = np.sum((p + q) ** 2, axis=-2) / 4",
               "a0 = np.maximum(v, 1e-12)", "v = max(a0, 1e-12)",
               "v = hidden * init_std ** 2 / 2", "s = free_starts(lay, w)"]
    for src in sources:
        assert _start_formulas(ast.parse(src)), src
    assert not _start_formulas(ast.parse("y = np.sqrt(a + b)"))
