"""The study's learning rules by name: the one preset table (docs/theory/learning-rules.md).

Each preset is the study's family (:func:`modspec.theory.rules.study_rule`) at its default
coefficients ``(γ, ∇)``; :data:`modspec.theory.rules.PRESETS` holds the
:class:`~modspec.theory.rules.Rule` of each, built when first read. This module imports
nothing, so that option parsing can name the presets without SymPy. A new preset of the
family is one line here.
"""

from __future__ import annotations

__all__ = ["COEFFICIENTS"]

#: name -> (γ, ∇): the output term's and the Hebbian term's coefficients.
COEFFICIENTS: dict[str, tuple[float, float]] = {
    "gradient-descent": (0.0, 0.0),
    "hebbian": (0.0, 1e-3),
    "anti-hebbian": (0.0, -1e-3),
    "contrastive-hebbian": (1.0, 0.0),
    "predictive-coding": (-1.0, 0.0),
}
