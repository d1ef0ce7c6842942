"""A workaround for a SymPy 1.14 bug that modspec's exact arithmetic meets.

To take the square root of an integer, SymPy factors it with a limit; ``factorint`` may then
find composite cofactors (Fermat's method) and hands them to its prime-factor cache, which
refuses them with ``ValueError: … is not a prime factor of …`` (sympy/sympy#28621, fixed
upstream by caching primes only). modspec meets such integers in the spectra of large
datasets (e.g. ``nx = 200``, ``kx = 1023``, ``ky = 491745``). :func:`install` makes the cache
do what the upstream fix does — keep the prime factors, pass over composite ones — and
nothing else; it is applied once, when :mod:`modspec.theory.symbols` is imported, and only
to SymPy versions that have the bug.
"""

from __future__ import annotations

import types

import sympy as sp
from sympy.ntheory import isprime

__all__ = ["install"]


def install() -> None:
    """Make SymPy's prime-factor cache pass over composite factors (idempotent)."""
    try:
        from sympy.ntheory import factor_
    except ImportError:  # pragma: no cover - every supported SymPy has it
        return
    cache = getattr(factor_, "factor_cache", None)
    if cache is None or getattr(cache, "_modspec_primes_only", False) \
            or _version(sp.__version__) >= (1, 15):
        return
    remove = factor_.remove

    def add(self, n: int, factors: list[int]) -> None:
        for p in sorted(factors, reverse=True):
            if isprime(p):
                self[n] = p
            n = int(remove(n, p)[0])

    cache.add = types.MethodType(add, cache)
    cache._modspec_primes_only = True


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
