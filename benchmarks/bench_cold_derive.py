"""Cold derivation speed, measured side by side in one run (ratios; this machine is noisy).

The closed-form mode trajectory ``a(t)`` (depths 1 and 2) is derived by separation of
variables: ``t(a) = ∫ τ/f(a) da`` is a sum of logarithms. modspec exponentiates ``t(a) = t``
into a polynomial equation in ``a`` (:func:`modspec.theory.dynamics._separate`); the baseline
gives the transcendental equation to ``sympy.solve``, as modspec did before. Both routes tidy
and check every candidate by substitution into the ODE, so they do the same work apart from
the solving, and both must give the same expression. A cold ``modspec derive`` of D0 is
dominated by this step when the cache is empty.

Then whole cold commands, each in a fresh process with an empty ``MODSPEC_CACHE_DIR`` and
measured in CPU seconds of the child (the machine is shared; wall time is not comparable):

* ``modspec derive`` of D0 against the floor every command pays, a process that only
  imports ``modspec.theory.derivation`` (SymPy, NumPy and the theory modules), and against
  the same command deriving everything from scratch (the shipped cache entries of
  :mod:`modspec.theory.shipped` not read: a first run before they shipped);
* ``modspec derive --symbolic`` of a hierarchy (branching, features and r symbolic) at
  ``levels = 10`` and ``40`` against ``levels = 4`` (the issue's pair, and a depth the
  explicit algebra could not reach): the goal is a ratio near 1, the cost independent of the
  number of levels. A symbolic tree's modes and ``W*`` are derived once for a symbolic level
  and substituted per level (:mod:`modspec.theory.tree_levels`), so the work budget lets
  100 levels through (:mod:`modspec.theory.work_budget`); what still grows with the levels
  is substitution and bookkeeping (a mode per level), printed as the remaining gap.

    python benchmarks/bench_cold_derive.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import sympy as sp
from _common import best_of as timed

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
    """Best of ``repeat`` cold runs: SymPy's own cache emptied before each."""
    return timed(f, repeat, before=sp.core.cache.clear_cache)


#: ``modspec derive --format json`` with the shipped cache entries not read (from scratch).
SCRATCH = ("import runpy, sys; import modspec.theory.shipped as s; s._READ = False; "
           "sys.argv = ['modspec', 'derive', '--format', 'json']; "
           "runpy.run_module('modspec', run_name='__main__')")


def cold_cpu(args: list[str], repeat: int) -> float:
    """Best CPU seconds (user + system) of ``python args`` in a fresh process with an empty
    cache directory, over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "MODSPEC_CACHE_DIR": cache}, cwd=cache)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


def hierarchy(directory: str, levels: int) -> str:
    path = Path(directory) / f"hierarchy{levels}.toml"
    path.write_text(f'family = "hierarchical"\nlevels = {levels}\nbranching = 2\n'
                    'features = 1\nr = 1.0\n')
    return str(path)


def bench_commands(quick: bool) -> None:
    n = 1 if quick else 3
    t_floor = cold_cpu(["-c", "import modspec.theory.derivation"], n)
    t_d0 = cold_cpu(["-m", "modspec", "derive", "--format", "json"], n)
    t_scratch = cold_cpu(["-c", SCRATCH], n)
    print(f"cold modspec derive of D0: {t_d0:.2f} CPU s, import floor {t_floor:.2f} CPU s "
          f"-> {t_d0 / t_floor:.1f}x the floor (derivation {t_d0 - t_floor:.2f} CPU s); "
          f"without the shipped cache entries {t_scratch:.2f} CPU s "
          f"({t_scratch / t_d0:.1f}x)")
    with tempfile.TemporaryDirectory() as d:
        levels = (4, 10, 40)   # the pair, and 40 (the explicit algebra's old limit: 12)
        times = [cold_cpu(["-m", "modspec", "derive", "--symbolic", "--format", "json",
                           "--dataset", hierarchy(d, L)], 1 if quick else 2) for L in levels]
    print("cold symbolic hierarchical derive: "
          + ", ".join(f"levels {L} {t:.2f} CPU s" for L, t in zip(levels, times, strict=True))
          + " -> ratios " + ", ".join(f"{L}/{levels[0]} {t / times[0]:.2f}"
                                      for L, t in zip(levels[1:], times[1:], strict=True))
          + " (goal: near 1)")
    if max(times) / times[0] > 1.5:
        print("  gap: the modes and W* are derived once for a symbolic level "
              "(theory/tree_levels.py); each level still costs a substitution, a mode in the "
              "output and a half-rise time, and a tree of D levels has D x (D + 1) Gram "
              "coefficients to list")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    for L in (1, 2):
        integrand = sp.together(sy.tau / dynamics.mode_rhs(L, dynamics._a))
        t_new, new = best_of(lambda: dynamics._separate(integrand, L))   # noqa: B023
        t_old, old = best_of(lambda: baseline(integrand, L))             # noqa: B023
        assert sp.simplify(new - old) == 0, (new, old)
        print(f"depth {L}: exponentiated {t_new:.2f} s, sympy.solve {t_old:.2f} s "
              f"-> {t_old / t_new:.1f}x faster (same a(t): {new})")
    bench_commands(args.quick)


if __name__ == "__main__":
    main()
