"""Stable closed forms: no overflow, NaN or cancellation (checked against mpmath)."""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

from modspec.numerics.predict import compile
from modspec.numerics.stable import stable_form, unstable
from modspec.theory import symbols as sy
from modspec.theory.dynamics import mode_solution

DEEP = mode_solution(2)
SHALLOW = mode_solution(1)
FAST = {d: compile(e) for d, e in ((2, DEEP), (1, SHALLOW))}


_ARGS = (sy.t, sy.tau, sy.a0, sy.s, sy.lam)
_MP = {d: sp.lambdify(_ARGS, e, "mpmath") for d, e in ((2, DEEP), (1, SHALLOW))}


def _exact(depth: int, t: float, tau: float, a0: float, s: float, lam: float) -> float:
    """The unstable SymPy form in 700-digit arithmetic (enough to absorb a0 = 1e-300)."""
    with mpmath.workdps(700):
        return float(_MP[depth](*(mpmath.mpf(v) for v in (t, tau, a0, s, lam))))


def test_stable_form_is_the_same_function():
    for expr in (DEEP, SHALLOW):
        assert sp.simplify(unstable(stable_form(expr)) - expr) == 0
        assert not stable_form(expr).has(sp.exp(2 * sy.s * sy.t / sy.tau))


@given(t=st.floats(0, 1e7), a0=st.floats(1e-300, 10.0), s=st.floats(0.01, 5.0),
       lam=st.floats(0.01, 5.0), tau=st.floats(0.1, 100.0), depth=st.sampled_from([1, 2]))
@example(t=1e7, a0=1e-300, s=1.2437, lam=1.375, tau=6.25, depth=2)
@example(t=0.0, a0=1e-300, s=1.2437, lam=1.375, tau=6.25, depth=2)
@example(t=1e-12, a0=1e-300, s=0.2165, lam=0.375, tau=6.25, depth=2)
@example(t=1e-12, a0=1e-300, s=0.2165, lam=0.375, tau=6.25, depth=1)
@example(t=3500.0, a0=1e-300, s=0.2165, lam=0.375, tau=6.25, depth=2)   # mid-rise at 1e-300
@example(t=1e7, a0=10.0, s=0.2165, lam=0.375, tau=6.25, depth=2)       # from above a*
def test_compiled_closed_forms_match_mpmath(t, a0, s, lam, tau, depth):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = float(FAST[depth](t=t, tau=tau, a0=a0, s=s, lam=lam))
    want = _exact(depth, t, tau, a0, s, lam)
    assert np.isfinite(got)
    assert abs(got - want) <= 1e-12 * abs(want) + 1e-320


def test_extreme_arrays_have_no_overflow_or_nan():
    t = np.array([0.0, 1e-9, 1.0, 1e3, 1e5, 1e7])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = FAST[2](t=t, tau=6.25, a0=np.array([[1e-300], [1e-6], [5.0]]), s=1.2, lam=1.4)
    assert np.all(np.isfinite(a)) and a.shape == (3, 6)
    np.testing.assert_allclose(a[:, 0], [1e-300, 1e-6, 5.0], rtol=1e-15)     # t = 0: start
    np.testing.assert_allclose(a[:, -1], 1.2 / 1.4, rtol=1e-15)              # t → ∞: a*
