"""Cold derivation speed, measured side by side in one run (ratios; this machine is noisy).

The closed-form mode trajectory ``a(t)`` (depths 1 and 2) is derived by separation of
variables: ``t(a) = ∫ τ/f(a) da`` is a sum of logarithms. modspec exponentiates ``t(a) = t``
into a polynomial equation in ``a`` (:func:`modspec.theory.dynamics._separate`); the baseline
gives the transcendental equation to ``sympy.solve``, as modspec did before. Both routes tidy
and check every candidate by substitution into the ODE, so they do the same work apart from
the solving, and both must give the same expression. A cold ``modspec derive`` of D0 is
dominated by this step when the cache is empty.

    python benchmarks/bench_cold_derive.py
"""

from __future__ import annotations

import time

import sympy as sp

from modspec.theory import dynamics
from modspec.theory import symbols as sy


def baseline(integrand: sp.Expr, L: int) -> sp.Expr:
    """The previous route: ``sympy.solve`` on ``t(a) − t(a0) = t``."""
    a = dynamics._a
    F = sp.integrate(sp.apart(integrand, a), a)
    for cand in sp.solve(sp.Eq(F - F.subs(a, sy.a0), sy.t), a):
        cand = dynamics._tidy(cand)
        if dynamics.check_solution(cand, L):
            return cand
    raise RuntimeError("no candidate passed")


def best_of(f, repeat: int = 3) -> tuple[float, sp.Expr]:
    best, out = float("inf"), None
    for _ in range(repeat):
        sp.core.cache.clear_cache()          # cold: SymPy's own cache emptied too
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    for L in (1, 2):
        integrand = sp.together(sy.tau / dynamics.mode_rhs(L, dynamics._a))
        t_new, new = best_of(lambda: dynamics._separate(integrand, L))   # noqa: B023
        t_old, old = best_of(lambda: baseline(integrand, L))             # noqa: B023
        assert sp.simplify(new - old) == 0, (new, old)
        print(f"depth {L}: exponentiated {t_new:.2f} s, sympy.solve {t_old:.2f} s "
              f"-> {t_old / t_new:.1f}x faster (same a(t): {new})")


if __name__ == "__main__":
    main()
