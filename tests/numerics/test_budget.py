"""The memory budget: requests that cannot fit are refused, naming the size, before allocating."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modspec as ms
from modspec.numerics import budget
from modspec.numerics.budget import check_memory, format_bytes, training_bytes
from modspec.numerics.simulate import simulate
from modspec.theory.architectures import architecture
from modspec.theory.errors import ModspecError

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)


@given(seeds=st.integers(1, 10**6), epochs=st.integers(0, 10**9), hidden=st.integers(1, 10**4),
       arch=st.sampled_from(["dense", "split", "segregated", "leaky"]))
def test_training_bytes_is_affine_in_seeds_and_in_epochs(seeds, epochs, hidden, arch):
    net = architecture(arch)
    one = training_bytes(D0, net, hidden, 1, epochs)
    per_seed = training_bytes(D0, net, hidden, 2, epochs) - one
    assert 0 < per_seed < one                       # the data and Σx are shared by the seeds
    assert training_bytes(D0, net, hidden, seeds, epochs) == one + (seeds - 1) * per_seed
    step = training_bytes(D0, net, hidden, 1, epochs + 1) - one
    assert step > 0
    assert training_bytes(D0, net, hidden, 1, epochs + 2) - training_bytes(
        D0, net, hidden, 1, epochs + 1) == step


@pytest.mark.parametrize("arch, depth, hidden, seeds, epochs", [
    ("dense", 2, 50, 4, 3000), ("split", 2, 50, 2, 3000), ("dense", 3, 20, 3, 2000),
    ("leaky", 2, 50, 8, 500), ("dense", 2, 400, 16, 10), ("segregated", 1, 5, 3, 1000)])
def test_training_bytes_is_within_a_factor_two_of_the_traced_peak(arch, depth, hidden, seeds,
                                                                     epochs):
    net = architecture(arch, depth)
    simulate(D0, net, 0.01, 2, hidden=hidden, seeds=seeds)       # layouts and code compiled
    tracemalloc.start()
    try:
        simulate(D0, net, 0.01, epochs, hidden=hidden, seeds=seeds)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = training_bytes(D0, net, hidden, seeds, epochs)
    assert estimate / 2 <= peak <= 2 * estimate


def test_requests_the_checks_refuse_anyway_cost_nothing():
    net = architecture("dense")
    assert training_bytes(ms.CompositionalDataset.symbolic(), net, 50, 1, 10) == 0
    for bad in ({"hidden": True}, {"seeds": -1}, {"epochs": 2.5}):
        kw = {"hidden": 50, "seeds": 1, "epochs": 10} | bad
        assert training_bytes(D0, net, **kw) == 0
    assert budget.prediction_bytes(-1) == 0


def test_check_memory_names_the_request_and_the_size_it_needs(monkeypatch):
    monkeypatch.setattr(budget, "available_bytes", lambda: 2**30)
    check_memory(2**30, "epochs=1")                              # exactly what is free: fine
    with pytest.raises(ModspecError, match=r"^epochs=7 is invalid: needs about 2 GiB of "
                                           r"memory, more than the 1 GiB available"):
        check_memory(2**31, "epochs=7")
    monkeypatch.setattr(budget, "available_bytes", lambda: None)   # unknown: no refusal
    check_memory(2**80, "epochs=7")


def test_a_coupled_prediction_counts_its_integrated_flow_and_a_decoupled_one_does_not():
    leaky, dense = architecture("leaky"), architecture("dense")
    base = budget.prediction_bytes(100)
    assert budget.prediction_bytes(100, D0, dense, hidden=10**9) == base
    assert budget.prediction_bytes(100, D0, leaky, hidden=50) == base + training_bytes(
        D0, leaky, 50, 1, 0)


def test_available_bytes_is_a_positive_count():
    free = budget.available_bytes()
    assert free is None or free > 0


@pytest.mark.parametrize("n, text", [(0, "0 B"), (1536, "1.5 KiB"), (3 * 2**30, "3 GiB"),
                                     (2**90, "1.02e+03 YiB")])
def test_format_bytes_uses_binary_units(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("kw, named", [({"epochs": 2_000_000_000}, "epochs=2000000000"),
                                       ({"epochs": 10, "seeds": 10_000, "hidden": 100_000},
                                        "seeds=10000, hidden=100000")])
def test_simulate_refuses_a_request_that_cannot_fit_before_allocating(kw, named, monkeypatch):
    monkeypatch.setattr(budget, "available_bytes", lambda: 16 * 2**30)
    start = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(ModspecError, match=named + ".*needs about"):
            simulate(D0, architecture("dense"), lr=0.01, **kw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**24 and time.perf_counter() - start < 2
