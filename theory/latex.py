"""LaTeX rendering of a :class:`~modspec.theory.derivation.Derivation` (placeholder)."""
