"""The rank view of systematicity: how many objects identify the compositional rule?

docs/theory/learning-dynamics.md §9. A segregated module ``Ox → Oy`` trained on a subset T of
objects recovers the rule ``S`` exactly when the subset's ``Ox`` covariance ``Ωx_T Ωx_Tᵀ / |T|`` has
full rank ``nx`` (:mod:`modspec.theory.heldout`). The identity structure, of rank ``P``, needs every
object. So the question "how likely is a random subset of j objects to suffice?" is

    p(j) = #{T ⊂ objects : |T| = j, rank Ωx_T = nx} / C(P, j)

for j *distinct* objects drawn uniformly without replacement (``P = 2**nx`` objects).
:func:`full_rank_probability` counts exactly by enumerating every subset (the Gram
determinant of ±1 vectors is an integer, so the test ``det ≠ 0`` is exact);
:func:`sampled_full_rank_probability` estimates it from seeded random subsets.

**The study's criterion.** The published rank figure of the study counts a subset as sufficient
when ``det |C_T| > 0.1``, with ``C_T = Ωx_T Ωx_Tᵀ / j`` the subset's feature covariance and
``|·|`` the *elementwise* absolute value. That is a different quantity: taking absolute values
before the determinant changes it, so a rank-deficient covariance can pass (at ``nx = 4`` and
``j = 3 < nx``, where full rank is impossible, 0.1143 of the subsets pass) and a full-rank one
can fail (at ``j = 4``: 0.2989 against the exact full-rank probability 0.5099).
:func:`study_criterion_probability` counts it exactly, so the published curve can be reproduced
and set beside :func:`full_rank_probability` (docs/theory/learning-dynamics.md §9).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np

from .errors import ModspecError, bad, check_integer

__all__ = ["MAX_SUBSETS", "STUDY_THRESHOLD", "full_rank_count", "full_rank_probability",
           "rank_table", "sampled_full_rank_probability", "sign_patterns",
           "study_criterion_count", "study_criterion_probability"]

#: Largest number of subsets :func:`full_rank_probability` enumerates for one j.
MAX_SUBSETS = 2_000_000

#: The study's threshold on ``det |Ωx_T Ωx_Tᵀ / j|`` (elementwise absolute value).
STUDY_THRESHOLD = Fraction(1, 10)


def sign_patterns(nx: int) -> np.ndarray:
    """Ωx: column j holds object j's features, ``Ωx[i, j] = (−1)^(bit i of j)``."""
    check_integer("nx", nx, 1)
    j = np.arange(2**nx)
    return (1 - 2 * ((j[None, :] >> np.arange(nx)[:, None]) & 1)).astype(np.int64)


def _check_j(j: int, P: int) -> int:
    if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 1 <= j <= P:
        raise bad("j", j, f"must be an integer in [1, {P}]")
    return int(j)


def _full_rank(omega: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Boolean per subset (rows of indices): ``det(Ωx_T Ωx_Tᵀ) ≠ 0`` (integer Gram)."""
    cols = omega[:, subsets]                       # nx × n × j
    gram = np.einsum("inj,knj->nik", cols, cols).astype(float)
    return np.abs(np.linalg.det(gram)) > 0.5


def _study_pass(omega: np.ndarray, subsets: np.ndarray, threshold: Fraction) -> np.ndarray:
    """Boolean per subset: ``det |G / j| > threshold`` with ``G = Ωx_T Ωx_Tᵀ`` (integer).

    ``det |G / j| = det |G| / j**nx`` and ``det |G|`` is an integer, so the comparison
    ``det |G| · q > p · j**nx`` (threshold ``p/q``) is exact."""
    cols = omega[:, subsets]
    gram = np.abs(np.einsum("inj,knj->nik", cols, cols)).astype(float)
    det = np.rint(np.linalg.det(gram)).astype(object)
    nx, j = omega.shape[0], subsets.shape[1]
    bound = threshold.numerator * j**nx
    return np.array([int(d) * threshold.denominator > bound for d in det], dtype=bool)


def _count(nx: int, j: int, test, hint: str = "use a smaller nx") -> tuple[int, int]:
    omega = sign_patterns(nx)
    P = omega.shape[1]
    j = _check_j(j, P)
    total = math.comb(P, j)
    if total > MAX_SUBSETS:
        raise ModspecError(
            f"nx={nx}, j={j}: {total} subsets exceed the enumeration limit {MAX_SUBSETS}; "
            + hint)
    good = 0
    it = itertools.combinations(range(P), j)
    while True:
        chunk = list(itertools.islice(it, 100_000))
        if not chunk:
            break
        good += int(test(omega, np.array(chunk)).sum())
    return good, total


def study_criterion_count(nx: int, j: int,
                          threshold: Fraction | float = STUDY_THRESHOLD) -> tuple[int, int]:
    """``(subsets of size j with det |Ωx_T Ωx_Tᵀ / j| > threshold, all subsets of size j)``.

    The study's own sufficiency test (elementwise absolute value, then determinant); it is not
    a rank test — see the module docstring for how it differs from :func:`full_rank_count`.
    """
    try:
        thr = Fraction(threshold).limit_denominator(10**12)
    except (TypeError, ValueError):
        raise bad("threshold", threshold, "must be a number ≥ 0") from None
    if thr < 0 or isinstance(threshold, bool):
        raise bad("threshold", threshold, "must be a number ≥ 0")
    return _count(nx, j, lambda om, sub: _study_pass(om, sub, thr))


def study_criterion_probability(nx: int, j: int,
                                threshold: Fraction | float = STUDY_THRESHOLD) -> Fraction:
    """Exact fraction of the size-j subsets passing the study's ``det |C_T| > threshold``."""
    good, total = study_criterion_count(nx, j, threshold)
    return Fraction(good, total)


def full_rank_count(nx: int, j: int) -> tuple[int, int]:
    """``(full-rank subsets of size j, all subsets of size j)`` by enumeration."""
    P = sign_patterns(nx).shape[1]
    j = _check_j(j, P)
    if j < nx:
        return 0, math.comb(P, j)
    return _count(nx, j, _full_rank, "use sampled_full_rank_probability")


def full_rank_probability(nx: int, j: int) -> Fraction:
    """Exact probability that j distinct random objects have a full-rank ``Ox`` covariance."""
    good, total = full_rank_count(nx, j)
    return Fraction(good, total)


def sampled_full_rank_probability(nx: int, j: int, samples: int = 10_000,
                                  seed: int = 0) -> float:
    """Monte-Carlo estimate of :func:`full_rank_probability` from ``samples`` seeded subsets.

    The standard error is ``sqrt(p (1 − p) / samples)``.
    """
    omega = sign_patterns(nx)
    P = omega.shape[1]
    j = _check_j(j, P)
    check_integer("samples", samples, 1)
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, samples, 20_000):
        n = min(20_000, samples - start)
        subsets = np.argsort(rng.random((n, P)), axis=1)[:, :j]
        hits += int(_full_rank(omega, subsets).sum())
    return hits / samples


def rank_table(nx: int, samples: int = 10_000, seed: int = 0,
               exact: bool = True) -> list[dict[str, float | int | str | None]]:
    """For each j = 1..P: exact probability (as a fraction string and float), a sampled
    estimate (seed ``seed + j``) and, under ``study``, the fraction passing the study's criterion
    ``det |C_T| > 0.1`` (:func:`study_criterion_probability`). ``exact=False`` skips
    enumeration (both exact columns are then ``None``)."""
    P = 2**nx
    rows: list[dict[str, float | int | str | None]] = []
    for j in range(1, P + 1):
        p = full_rank_probability(nx, j) if exact else None
        rows.append({"j": j,
                     "exact": None if p is None else str(p),
                     "probability": None if p is None else float(p),
                     "sampled": sampled_full_rank_probability(nx, j, samples, seed + j),
                     "study": float(study_criterion_probability(nx, j)) if exact else None})
    return rows
