"""The family registry and the dataset contract: every class that holds a dataset meets the
one protocol, every family is looked up by name in one registry (unknown names refused in one
line naming the known ones), and a family registered later is listed everywhere."""

from __future__ import annotations

import inspect

import pytest

from modspec.theory import symbols as sy
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError
from modspec.theory.families import (
    FAMILIES,
    SYMBOLS,
    DatasetProtocol,
    Family,
    compositional,
    contexts,
    family,
    family_of,
    from_mapping,
    hierarchical,
    names,
    parity,
    register,
    symbolic,
    unregister,
)

MEMBERS = [name for name in DatasetProtocol.__annotations__] + [
    name for name, value in vars(DatasetProtocol).items()
    if isinstance(value, property) or (callable(value) and not name.startswith("_"))]


def conforms(dataset) -> bool:
    """Every member of the protocol is there (read without evaluating a property)."""
    missing = object()
    return all(inspect.getattr_static(dataset, name, missing) is not missing
               for name in MEMBERS)


@pytest.mark.parametrize("make", [
    lambda: CompositionalDataset(3, 1, 1, 1), lambda: CompositionalDataset.symbolic(),
    lambda: CompositionalDataset(3, 1, 1, 1).to_dataset(), lambda: compositional(3, 1, 1, 1),
    lambda: hierarchical(3, 2), lambda: parity(3, [[0], [0, 1]]), lambda: contexts(3),
    lambda: symbolic({"family": "parity", "nx": 3, "outputs": [[0]]})])
def test_every_dataset_class_meets_the_protocol_and_names_a_registered_family(make):
    dataset = make()
    assert conforms(dataset) and {"P", "X", "selection", "family"} <= set(MEMBERS)
    assert family_of(dataset).name == dataset.family


def test_the_registry_lists_the_families_in_their_order_and_refuses_unknown_ones():
    assert names() == ("compositional", "hierarchical", "parity", "declared", "contexts")
    assert list(FAMILIES) == ["compositional", "hierarchical", "parity", "contexts"]
    assert SYMBOLS["hierarchical"]["r"] is sy.r and "declared" not in SYMBOLS
    with pytest.raises(ModspecError, match=r"family='galaxy' is invalid: must be one of "
                                           r"\['compositional', 'hierarchical', 'parity', "
                                           r"'declared', 'contexts'\]"):
        from_mapping({"family": "galaxy"})
    with pytest.raises(ModspecError, match="compositional, hierarchical, parity or contexts"):
        symbolic({"family": "declared"})
    assert family("compositional").build is CompositionalDataset


def test_a_registered_family_is_listed_everywhere_until_removed():
    def line(n, r=1):
        return compositional(n, 1, 1, 1, r)

    register(Family("line", line, ("n", "r"), required=("n",)))
    try:
        assert names()[-1] == "line" and FAMILIES["line"] is line
        assert from_mapping({"family": "line", "n": 2}).P == 4
        with pytest.raises(ModspecError, match="line parameter='n' is invalid: is required"):
            from_mapping({"family": "line"})
        with pytest.raises(ModspecError, match="a symbolic derivation takes"):
            symbolic({"family": "line", "n": 2})
    finally:
        unregister("line")
    assert "line" not in names() and "line" not in FAMILIES
