"""Named dataset families, one module each, and the registry that names them.

Every family is one module that builds its dataset and registers itself with one line,
``register(Family(...))`` (:mod:`.registry`); a file's ``family`` key is looked up there
(``docs/theory/families.md``, ``docs/architecture.md``):

* :func:`compositional` ``(nx, ny, kx, ky, r)``: the paper's family on the hypercube, blocks
  ``Ox`` (all features), ``Gx`` (identity), ``Oy`` (the first ny features), ``Gy`` (identity);
  it has the spectrum of :class:`~modspec.theory.dataset.CompositionalDataset`, which is what
  a file with ``family = "compositional"`` gives.
* :func:`hierarchical` ``(levels, branching, features, r)``: a tree (Saxe, McClelland & Ganguli
  2019); input ``items`` (one-hot item identity, scale r), outputs ``level0 … level{D−1}``.
* :func:`parity` ``(nx, outputs, kx, ky, r)``: the hypercube with inputs ``Ox`` (features) and
  ``Gx`` (identity), outputs ``Oy`` (single features), ``Py`` (products) and ``Gy``.
* :func:`contexts` ``(C, r, rc, variants)``: the objects of a tree seen in C contexts
  (:mod:`modspec.theory.contexts`), inputs ``objects`` and ``contexts``, outputs ``common``
  and ``specific``.
* ``declared``: a user's own sample space and blocks (:mod:`.declared`).

:func:`from_mapping` reads ``{"family": name, **parameters}``; :func:`symbolic` the same with
the family's symbols; :func:`family_network` wires any dataset by its blocks' roles.
"""

from __future__ import annotations

# isort: off
# the registration order is the order in which messages list the families
from . import compositional as _compositional
from . import hierarchical as _hierarchical
from . import parity as _parity
from . import declared as _declared
from . import contexts as _contexts
# isort: on
from .compositional import compositional
from .contexts import contexts
from .hierarchical import D, c, f, hierarchical, hierarchical_levels
from .parity import parity
from .protocol import DatasetProtocol
from .registry import (
    FAMILIES,
    SYMBOLS,
    Family,
    domain,
    family,
    family_of,
    from_mapping,
    names,
    register,
    substitution,
    substitution_of,
    symbolic,
    unregister,
)
from .wiring import EXPLAINED, IDENTITY, MEMORISED, STRUCTURE, block_roles, family_network

__all__ = ["D", "EXPLAINED", "FAMILIES", "IDENTITY", "MEMORISED", "STRUCTURE", "SYMBOLS",
           "DatasetProtocol", "Family", "block_roles", "c", "compositional", "contexts",
           "domain", "f", "family", "family_network", "family_of", "from_mapping",
           "hierarchical", "hierarchical_levels", "names", "parity", "register",
           "substitution", "substitution_of", "symbolic", "unregister"]

del _compositional, _hierarchical, _parity, _declared, _contexts
