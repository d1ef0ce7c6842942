"""Records rebuilt in batches of epochs equal those read epoch by epoch on the full network."""

from __future__ import annotations

import numpy as np
import pytest

import modspec as ms
from modspec.numerics.recorder import CHUNK_BYTES, chunk_records
from modspec.numerics.simulate import initial_weights, simulate
from modspec.theory import architectures as arch

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
QUADRANTS = ("Ox->Oy", "Gx->Oy", "Ox->Gy", "Gx->Gy")


def plain_records(init, lr, epochs):
    """All seeds stacked, on the full network (no reduction): W = W2 W1 every epoch, its
    quadrant norms, the mode strengths mean diag(Uᵀ W V) and the block losses."""
    X, Y = D0.X, D0.Y
    P = X.shape[1]
    Sx, Syx, tau = X @ X.T / P, Y @ X.T / P, 1 / (P * lr)
    cols = [slice(*D0.input_blocks[b]) for b in ("Ox", "Gx")]
    rows = [slice(*D0.output_blocks[b]) for b in ("Oy", "Gy")]
    modes = ms.spectrum(D0).modes
    W1, W2 = init[0][0].copy(), init[0][1].copy()
    out = []
    for _ in range(epochs + 1):
        W = W2 @ W1
        sq_err = (Y - W @ X) ** 2
        out.append([*(np.diagonal(m.U.T @ W @ m.V, axis1=1, axis2=2).mean(axis=1)
                      for m in modes),
                    *(np.linalg.norm(W[:, o, i], axis=(1, 2)) for o in rows for i in cols),
                    *(sq_err[:, o].sum(axis=1).mean(axis=1) for o in rows)])
        E = Syx - W @ Sx
        W1, W2 = W1 + W2.mT @ E / tau, W2 + E @ W1.mT / tau
    return np.array(out).transpose(2, 0, 1)                     # (seeds, T, values)


@pytest.mark.parametrize("seeds, epochs", [(48, 37), (1, 20), (3, 0)])
def test_batched_records_equal_the_epoch_by_epoch_reading_across_batches(seeds, epochs):
    init = initial_weights(D0, arch.dense(), hidden=50, init_std=2e-2, seeds=seeds, seed=5)
    sim = simulate(D0, arch.dense(), lr=0.05, epochs=epochs, init=init, progress=False)
    want = plain_records(init, 0.05, epochs)
    n_modes = len(ms.spectrum(D0).modes)
    for j, m in enumerate(ms.spectrum(D0).modes):
        np.testing.assert_allclose(sim.modes[m.label], want[:, :, j], rtol=1e-9, atol=1e-14)
    for j, q in enumerate(QUADRANTS):
        np.testing.assert_allclose(sim.quadrant_norms[q], want[:, :, n_modes + j], rtol=1e-11)
    for j, name in enumerate(("compositional", "noncompositional")):
        np.testing.assert_allclose(sim.loss[name], want[:, :, n_modes + 4 + j], rtol=1e-9,
                                   atol=1e-14)
    np.testing.assert_allclose(sim.final_map, init[0][1] @ init[0][0] if epochs == 0 else
                               sim.weights[0][1] @ sim.weights[0][0], rtol=1e-12, atol=1e-16)


def test_a_batch_holds_at_least_one_record_and_at_most_the_byte_bound():
    assert chunk_records(37 + 1, 48, 9, 27) == CHUNK_BYTES // (8 * 48 * 9 * 27)
    assert 1 < chunk_records(38, 48, 9, 27) < 38                 # several batches, one partial
    assert chunk_records(5, 10**6, 9, 27) == 1
    assert chunk_records(3, 1, 1, 1) == 3
