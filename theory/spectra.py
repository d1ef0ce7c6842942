"""The spectrum of a module: modes of Σyx and Σx derived from the projector algebra.

docs/theory/spectrum.md. A module reads input blocks ``I`` and writes output blocks ``O``. On each
atom g of sample space (see :mod:`modspec.theory.projectors`)

    cx(g) = Σ_{B∈I} c_B(g),      cy(g) = Σ_{B∈O} c_B(g)

and, with P samples,

    s_g = sqrt(cx · cy) / P        singular value of Σyx = Y Xᵀ / P
    λ_g = cx / P                   eigenvalue of Σx = X Xᵀ / P along v_g
    v_g = X g / sqrt(cx),  u_g = Y g / sqrt(cy)      for g in the atom (orthonormal)
    a*_g = s_g / λ_g = sqrt(cy / cx)                 fixed point of the mode strength

with multiplicity ``rank Π_g``. Atoms whose Gram coefficients agree on all of the module's
blocks form one mode. An atom with ``cy = 0`` but ``cx > 0`` carries input variance but no
input–output correlation: it is *silent* (no mode). Zero ``s`` means no mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy as sp

from . import symbols as sy
from . import tree_levels
from .architectures import Network, check_blocks
from .dataset import MAX_ENTRIES, CompositionalDataset, Dataset, block_rows
from .equality import MERGE_RTOL, clean, equal, group_equal, merge_equal, probe, probed_apart, same
from .errors import ModspecError, bad
from .modes import Mode, existence, mode_tex
from .projectors import Atom, SampleSpace, sample_space
from .symbols import to_latex as tex

#: ``Mode``, ``existence`` and ``mode_tex`` are defined in :mod:`modspec.theory.modes` (which
#: the families import without this module), ``merge_equal`` in
#: :mod:`modspec.theory.equality`; all are public here as before.
__all__ = ["MERGE_RTOL", "Mode", "Spectrum", "existence", "merge_equal", "mode_tex",
           "module_spectra", "module_spectrum", "spectrum", "spectrum_latex"]


@dataclass(frozen=True, eq=False)
class Spectrum:
    """All modes of one module (or of the dense network, which is one module).

    ``modes`` are ordered as the atoms (π1, π2, π3 for the family) when symbolic and by
    decreasing ``s`` when numeric. ``silent`` lists input directions with ``λ > 0`` and
    ``s = 0``. ``n_inputs``/``n_outputs`` are the module's numbers of input and output units;
    ``dataset`` the dataset it was derived from (its family names the parameters :meth:`subs`
    takes).
    """

    modes: tuple[Mode, ...]
    silent: tuple[Mode, ...]
    P: sp.Expr
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    n_inputs: sp.Expr
    n_outputs: sp.Expr
    symbolic: bool
    name: str = "dense"
    dataset: Any = None

    # ---------------------------------------------------------------- evaluation
    def subs(self, values: Mapping[Any, Any] | None = None, **kw: Any) -> Spectrum:
        """Evaluate at numbers: drops modes that do not exist there; keeps exact numbers.

        Keys may be canonical symbols or their names (``nx``, ``rx``, …; ``r`` sets both
        scales); for a spectrum of the hierarchical, parity or contexts family its parameters'
        symbols or names (``c`` or ``branching``, ``f`` or ``features``, ``r``; ``nx``, ``kx``,
        ``ky``, ``r``; ``C``, ``r``, ``rc``), checked as the family checks them (one-line
        :class:`ModspecError`).
        """
        mapping = self.substitution(values, **kw)
        modes = []
        silent = []
        for mode in (*self.modes, *self.silent):
            new = _subs_mode(mode, mapping)
            if new is None:
                continue
            if new.s == 0:
                silent.append(new)
            else:
                modes.append(new)
        free = any(m.s.free_symbols or m.multiplicity.free_symbols for m in modes)
        if not free:
            modes.sort(key=lambda m: -float(m.s))
        return Spectrum(tuple(modes), tuple(silent), sp.sympify(self.P).subs(mapping),
                        self.inputs, self.outputs, sp.sympify(self.n_inputs).subs(mapping),
                        sp.sympify(self.n_outputs).subs(mapping), bool(free), self.name,
                        self.dataset)

    def substitution(self, values: Mapping[Any, Any] | None = None, **kw: Any
                     ) -> dict[sp.Symbol, sp.Expr]:
        """Symbol → exact value of ``values`` (keys as :meth:`subs` takes them), checked as
        the dataset's family checks its parameters (one-line :class:`ModspecError`)."""
        from .families import substitution_of

        return substitution_of(self.dataset, values, kw)

    def distinct_singular_values(self) -> list[tuple[float, int]]:
        """``(s, multiplicity)`` for every distinct non-zero singular value of Σyx, descending
        (numeric spectra); no list as long as P is built, whatever the size.

        Modes are groups of atoms with equal Gram coefficients on every block, so two modes
        can share a singular value (e.g. a parity dataset's blocks): their multiplicities are
        summed here (values compared as :func:`merge_equal` does)."""
        self._require_numeric()
        return [(float(v), int(k)) for v, k in
                merge_equal([(m.s, m.multiplicity) for m in self.modes])]

    def distinct_input_variances(self) -> list[tuple[float, int]]:
        """``(λ, multiplicity)`` for every distinct eigenvalue of Σx, zero included,
        descending (equal eigenvalues of different modes merged)."""
        self._require_numeric()
        pairs = [(m.lam, m.multiplicity) for m in (*self.modes, *self.silent)]
        zeros = int(self.n_inputs) - sum(int(k) for _, k in pairs)
        pairs += [(sp.Integer(0), sp.Integer(zeros))] if zeros else []
        return [(float(v), int(k)) for v, k in merge_equal(pairs)]

    def distinct_modes(self) -> list[tuple[Mode, ...]]:
        """The modes grouped by equal ``(s, λ)`` (compared as :func:`merge_equal` does), in
        the order of :attr:`modes`: modes of one group follow the same dynamics and converge
        to the same fixed point, so they are one mode of multiplicity the sum of theirs
        (what ``modspec derive`` lists). Symbolic modes group only when equal as
        expressions."""
        modes = self.modes
        values = list(zip(probe([m.s for m in modes]), probe([m.lam for m in modes]),
                          strict=True))     # one point for all: pairs that differ there skip

        def alike(i: int, j: int) -> bool:
            return (not any(probed_apart(u, v) for u, v in zip(values[i], values[j],
                                                               strict=True))
                    and same(modes[i].s, modes[j].s) and same(modes[i].lam, modes[j].lam))

        return [tuple(modes[i] for i in g) for g in group_equal(range(len(modes)), alike)]

    def singular_values(self) -> np.ndarray:
        """Non-zero singular values of Σyx with multiplicity, descending (numeric spectra)."""
        return _expand(self.distinct_singular_values(), "singular_values")

    def input_variances(self) -> np.ndarray:
        """All eigenvalues of Σx (zeros included), descending (numeric spectra)."""
        return _expand(self.distinct_input_variances(), "input_variances")

    def sigma_yx(self) -> np.ndarray:
        """``Σ_modes s U Vᵀ`` rebuilt from the analytic singular vectors."""
        self._require_vectors()
        out = np.zeros((int(self.n_outputs), int(self.n_inputs)))
        for m in self.modes:
            out += float(m.s) * m.U @ m.V.T
        return out

    def sigma_x(self) -> np.ndarray:
        """``Σ λ V Vᵀ`` over modes and silent directions, rebuilt from the analytic vectors."""
        self._require_vectors()
        out = np.zeros((int(self.n_inputs), int(self.n_inputs)))
        for m in (*self.modes, *self.silent):
            out += float(m.lam) * m.V @ m.V.T
        return out

    def _require_numeric(self) -> None:
        if self.symbolic:
            raise ModspecError("this needs a numeric spectrum: call .subs(nx=..., ...) first")

    def _require_vectors(self) -> None:
        self._require_numeric()
        if any(m.V is None for m in (*self.modes, *self.silent)):
            raise ModspecError("singular vectors exist only for spectra of numeric datasets small "
                               "enough to materialise (CompositionalDataset.fits)")

    # ------------------------------------------------------------------- display
    def to_latex(self) -> str:
        """A LaTeX ``align*`` block with s, λ, multiplicity, fixed point and condition."""
        return spectrum_latex(self)

    def _repr_latex_(self) -> str:
        return "$$" + spectrum_latex(self, env="aligned") + "$$"

    def as_dict(self, as_strings: bool | None = None) -> list[dict[str, Any]]:
        """JSON-friendly modes: numbers as floats, or expressions as strings when symbolic."""
        strings = self.symbolic if as_strings is None else as_strings
        conv = sy.to_text if strings else float
        mult = sy.to_text if strings else int
        return [{"label": m.label, "s": conv(m.s), "lambda": conv(m.lam),
                 "multiplicity": mult(m.multiplicity), "fixed_point": conv(m.fixed_point)}
                for m in self.modes]


# --------------------------------------------------------------------------- route
def spectrum(
    dataset: CompositionalDataset | Dataset,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    exact: bool = False,
    name: str | None = None,
) -> Spectrum:
    """Derive the modes of the module that reads ``inputs`` and writes ``outputs``.

    By default the module reads every input block and writes every output block (the dense
    network). The family is handled symbolically through the Walsh atoms (any size, symbolic
    or numeric, cost independent of the size); a general :class:`Dataset` by joint
    diagonalisation, numerically or, with ``exact=True``, in exact arithmetic.
    """
    space = sample_space(dataset, exact=exact)
    return module_spectrum(space, dataset, inputs, outputs, name=name)


def module_spectrum(
    space: SampleSpace,
    dataset: CompositionalDataset | Dataset,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    name: str | None = None,
) -> Spectrum:
    """The modes of one module from an already computed sample space."""
    inputs, outputs = _module_blocks(space, inputs, outputs)
    symbolic = bool(getattr(dataset, "is_symbolic", False))
    P = space.P
    levels = tree_levels.plan(space, dataset, inputs, outputs)
    if levels is not None:    # a symbolic tree: the modes of a generic level, substituted
        modes, silent = tree_levels.tree_modes(space, levels, inputs, outputs)
        return _spectrum(space, dataset, modes, silent, inputs, outputs, name)
    vectors = not symbolic and all(a.basis is not None for a in space.atoms)
    in_spans = [dataset.input_blocks[b] for b in inputs]
    out_spans = [dataset.output_blocks[b] for b in outputs]
    if vectors:
        X, Y = np.asarray(dataset.X), np.asarray(dataset.Y)
        rows = (np.vstack([block_rows(X, s) for s in in_spans]),
                np.vstack([block_rows(Y, s) for s in out_spans]))
    modes, silent = [], []
    for group in _atom_groups(space, (*inputs, *outputs)):
        mode = _group_mode(group, inputs, outputs, P, symbolic, rows if vectors else None)
        if mode is None:
            continue
        if sp.simplify(sp.Add(*mode.cy.values())) == 0:
            silent.append(replace(mode, s=sp.Integer(0), fixed_point=sp.Integer(0)))
        else:
            modes.append(mode)
    if not symbolic:
        modes.sort(key=lambda m: -float(m.s))
    return _spectrum(space, dataset, modes, silent, inputs, outputs, name)


def _spectrum(space: SampleSpace, dataset: Any, modes: list[Mode], silent: list[Mode],
              inputs: Sequence[str], outputs: Sequence[str], name: str | None) -> Spectrum:
    """The :class:`Spectrum` of a module's modes and silent directions."""
    spans_in, spans_out = dataset.input_blocks, dataset.output_blocks   # computed once
    in_spans = [spans_in[b] for b in inputs]
    out_spans = [spans_out[b] for b in outputs]
    n_in = sp.Add(*[sp.sympify(b - a) for a, b in in_spans])
    n_out = sp.Add(*[sp.sympify(b - a) for a, b in out_spans])
    default = "dense" if (inputs == space.input_blocks and outputs == space.output_blocks) \
        else f"{'+'.join(inputs)}->{'+'.join(outputs)}"
    return Spectrum(tuple(modes), tuple(silent), space.P, inputs, outputs, n_in, n_out,
                    bool(getattr(dataset, "is_symbolic", False)), name or default, dataset)


def _module_blocks(space: SampleSpace, inputs: Sequence[str] | None,
                   outputs: Sequence[str] | None) -> tuple[Any, Any]:
    """A module's input and output blocks (default: all), checked against the space's."""
    inputs = space.input_blocks if inputs is None else check_blocks("inputs", inputs)
    outputs = space.output_blocks if outputs is None else check_blocks("outputs", outputs)
    for label, chosen, allowed in (("inputs", inputs, space.input_blocks),
                                   ("outputs", outputs, space.output_blocks)):
        if not chosen:
            raise bad(label, chosen, f"must name at least one of {list(allowed)}")
        for block in chosen:
            if block not in allowed:
                raise bad(label, block, f"must be blocks among {list(allowed)}")
    return inputs, outputs


def _atom_groups(space: SampleSpace, keys: Sequence[str]) -> list[list[Atom]]:
    """The atoms grouped by equal Gram coefficients on the blocks ``keys`` (one mode each),
    in order of appearance: hashed when every coefficient is an exact rational (a tree of
    many levels has as many atoms as levels, and pairwise comparison costs levels³), else
    compared pairwise."""
    grams = [tuple(sp.sympify(a.gram[k]) for k in keys) for a in space.atoms]
    if all(v.is_Rational for g in grams for v in g):
        hashed: dict[tuple, list[Atom]] = {}
        for atom, gram in zip(space.atoms, grams, strict=True):
            hashed.setdefault(gram, []).append(atom)
        return list(hashed.values())
    return group_equal(space.atoms,
                       lambda a, b: all(equal(a.gram[k], b.gram[k]) for k in keys))


def _group_mode(group: list[Atom], inputs: Sequence[str], outputs: Sequence[str],
                P: sp.Expr, symbolic: bool, rows: tuple[np.ndarray, np.ndarray] | None
                ) -> Mode | None:
    """The mode of one group of atoms (module docstring): ``s = sqrt(cx·cy)/P``, ``λ =
    cx/P``, ``a* = sqrt(cy/cx)``, and its singular vectors from the module's rows ``rows``
    when numeric; None when the group carries no input variance or has rank 0."""
    first = group[0]
    cx = {b: first.gram[b] for b in inputs}
    cy = {b: first.gram[b] for b in outputs}
    cxt, cyt = sp.Add(*cx.values()), sp.Add(*cy.values())
    rank = sp.Add(*[a.rank for a in group])
    if sp.simplify(cxt) == 0 or (rank.is_number and rank == 0):
        return None
    s = clean(sp.sqrt(cxt * cyt) / P)
    lam = clean(cxt / P)
    fixed = clean(sp.sqrt(cyt / cxt)) if cxt != 0 else sp.nan
    always = all(a.always_present for a in group)
    cond = existence(rank, cxt * cyt, always) if symbolic else sp.true
    U = V = None
    if rows is not None:
        G = np.hstack([a.basis for a in group])
        V = _product(rows[0], G) / np.sqrt(float(cxt))
        U = _product(rows[1], G) / np.sqrt(float(cyt)) if float(cyt) > 0 else None
    return Mode("+".join(a.label for a in group), s, lam, rank, fixed, cx, cy,
                tuple(a.label for a in group), cond, U, V)


def module_spectra(dataset: CompositionalDataset | Dataset, network: Network,
                   space: SampleSpace | None = None) -> list[Spectrum]:
    """The spectrum of every module of ``network`` (docs/theory/spectrum.md), checked blocks
    first."""
    space = space or sample_space(dataset)
    network.check(space.input_blocks, space.output_blocks)
    return [module_spectrum(space, dataset, m.inputs, m.outputs, name=m.name)
            for m in network.modules]


# ------------------------------------------------------------------------ helpers
def _product(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``A @ G``; through a sparse ``A`` when most of it is zero (identity blocks: at nx = 12
    the dense product is ~10¹¹ operations, the sparse one ~10⁸)."""
    if A.size > 1_000_000 and np.count_nonzero(A) < 0.05 * A.size:
        from scipy import sparse

        return np.asarray(sparse.csr_matrix(A) @ G)
    return A @ G


def _expand(pairs: list[tuple[float, int]], what: str) -> np.ndarray:
    """Values repeated by their multiplicities, refused beyond :data:`MAX_ENTRIES`."""
    total = sum(k for _, k in pairs)
    if total > MAX_ENTRIES:
        raise ModspecError(
            f"{what} would list {total:.3g} values (> {MAX_ENTRIES:.0e}); use "
            f"distinct_{what}() for (value, multiplicity) pairs")
    return np.repeat([v for v, _ in pairs], [k for _, k in pairs]).astype(float)


def _subs_mode(mode: Mode, mapping: dict) -> Mode | None:
    def ev(e: sp.Expr) -> sp.Expr:
        return sp.simplify(sp.sympify(e).subs(mapping))

    cond = mode.condition.subs(mapping) if mode.condition is not sp.true else sp.true
    rank = ev(mode.multiplicity)
    lam = ev(mode.lam)
    if (rank.is_number and rank <= 0) or lam == 0:
        return None
    s = ev(mode.s)
    fixed = ev(mode.fixed_point) if s != 0 else sp.Integer(0)
    return Mode(mode.label, s, lam, rank, fixed,
                {k: ev(v) for k, v in mode.cx.items()}, {k: ev(v) for k, v in mode.cy.items()},
                mode.atoms, cond)


def spectrum_latex(spec: Spectrum, env: str = "align*") -> str:
    """Rows ``s, λ, multiplicity, a*`` (and the existence condition) for every mode."""
    rows = []
    for m in spec.modes:
        k = mode_tex(m.label)
        row = (rf"s_{{{k}}} &= {tex(m.s)} & \lambda_{{{k}}} &= {tex(m.lam)} & "
               rf"m_{{{k}}} &= {tex(m.multiplicity)} & a^*_{{{k}}} &= "
               rf"{tex(m.fixed_point)}")
        if m.condition is not sp.true:
            row += rf" && \text{{if }} {tex(m.condition)}"
        rows.append(row)
    body = " \\\\\n".join(rows) if rows else r"&\text{no modes}"
    return f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"
