"""The discrete theory jumps to the end once the float iteration is at rest (issue 25): the
numbers are those of iterating every epoch, bit for bit, and a million epochs cost little."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from modspec.numerics import discrete
from modspec.numerics.discrete import iterate_modes


def _every_epoch(*args):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(discrete, "REST_CHECK", 2**62)            # never checks: every epoch
        return iterate_modes(*args)


@given(depth=st.integers(1, 4), lr_scale=st.floats(0.05, 2.5), a0=st.floats(1e-12, 3.0),
       last=st.integers(0, 700))
@example(depth=2, lr_scale=1.4, a0=1e-6, last=700)        # above the limit: a two-cycle
@example(depth=2, lr_scale=2.4, a0=1e-6, last=700)        # far above: chaos or overflow
@example(depth=3, lr_scale=0.5, a0=1e-300, last=300)      # stuck at a tiny start
def test_jumping_at_rest_gives_the_numbers_of_every_epoch(depth, lr_scale, a0, last):
    s = np.array([1.2437, 0.5, 0.2, 0.0])
    lam = np.array([1.375, 0.5, 0.375, 0.375])
    tau = 1.0 / (8 * lr_scale * 0.1005)                     # lr_scale × D0's stability limit
    t = np.unique(np.r_[0, np.arange(0, last + 1, 7), last])
    jumped = iterate_modes(depth, t, s, lam, a0, tau)
    stepped = _every_epoch(depth, t, s, lam, a0, tau)
    assert np.array_equal(jumped, stepped, equal_nan=True)


def test_a_million_epochs_after_convergence_cost_the_epochs_to_rest(monkeypatch):
    calls = []
    code = discrete.layer_map_code(2)
    monkeypatch.setattr(discrete, "layer_map_code",
                        lambda depth: type("G", (), {"func": staticmethod(
                            lambda *a: calls.append(1) or code.func(*a))})())
    a = iterate_modes(2, [0, 10**6], 1.2437, 1.375, 1e-6, 1 / (8 * 0.02))
    assert a[-1] == pytest.approx(1.2437 / 1.375, rel=1e-12)
    assert len(calls) < 10_000                               # not a million steps
