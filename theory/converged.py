"""The converged map of a network of decoupled modules (theory.md §4.4–4.5).

From small initialisation every module converges to its own minimum-norm least-squares map
``W*_m = Σyx,m Σx,m⁺``: each mode at its fixed point ``a* = s/λ``. The quadrant norms and the
systematicity report of the network follow from :mod:`modspec.theory.observables`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .architectures import Network
from .dataset import CompositionalDataset, Dataset
from .errors import ModspecError
from .observables import converged_strengths, network_quadrant_norms, rule_error_sq
from .projectors import SampleSpace, sample_space
from .spectrum import Spectrum, module_spectrum


@dataclass(frozen=True, eq=False)
class Converged:
    """Quadrant norms of ``W*`` and the systematicity report.

    ``rule_error`` is ``‖W[Ox→Oy] − S‖``; ``systematic`` is true when ``‖W[Gx→Oy]‖`` and
    ``rule_error`` vanish identically.
    """

    quadrant_norms: dict[str, sp.Expr]
    rule_error: sp.Expr

    @property
    def systematic(self) -> bool:
        return bool(sp.simplify(self.quadrant_norms["Gx->Oy"]) == 0
                    and sp.simplify(self.rule_error) == 0)


def module_spectra(dataset: CompositionalDataset | Dataset, network: Network,
                   space: SampleSpace | None = None) -> list[Spectrum]:
    """The spectrum of every module of ``network`` (theory.md §3.3)."""
    space = space or sample_space(dataset)
    network.check(space.input_blocks, space.output_blocks)
    return [module_spectrum(space, dataset, m.inputs, m.outputs, name=m.name)
            for m in network.modules]


def converged(dataset: CompositionalDataset | Dataset, network: Network) -> Converged:
    """Quadrant norms and rule error of the converged map of a decoupled network."""
    if network.coupled:
        raise ModspecError(
            f"architecture {network.name!r} has modules sharing an output block: their dynamics "
            "couple and the converged map has no mode-wise closed form; integrate numerically"
        )
    space = sample_space(dataset)
    spectra = module_spectra(dataset, network, space)
    strengths = [converged_strengths(s) for s in spectra]
    norms = network_quadrant_norms(spectra, strengths)
    rule_atoms = {a.label: (a.rank, a.gram["Oy"], a.gram["Ox"]) for a in space.atoms}
    err = sp.sqrt(rule_error_sq(spectra, strengths, rule_atoms))
    return Converged(norms, sp.simplify(err))
