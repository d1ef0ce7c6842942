"""The routing example (docs/examples/routing.toml): derive + predict, and simulation of many
seeds batched against a plain per-seed NumPy loop of the same network.

Times (1) the race report (SymPy derivation of the gated flow, the basis condition, the
per-mode systems, their fixed points) and the prediction (the race, in discrete and continuous
time, as the record ``predict --network`` prints), (2) :func:`modspec.numerics.gated_simulate`
of all seeds at once, recording the loss at every epoch, and (3) a plain loop, seed by seed
and context by context, of the same gradient descent recording the same loss; checks that (2)
and (3) give the same weights and losses and prints the ratio. This machine may be shared:
read the ratio of timings taken side by side.

    python benchmarks/bench_gated.py [--seeds 100] [--epochs 500]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from modspec.numerics.gated_predict import gated_prediction, gated_theory
from modspec.numerics.gated_report import gated_report
from modspec.numerics.gated_simulate import gated_initial_weights, gated_simulate
from modspec.theory.gated_data import load_data
from modspec.theory.gated_toml import load_network

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def plain_loop(network, data, lr, epochs, init):
    """Gradient descent, one seed at a time; per context, only the trained pair's pathway
    (input module i → shared → output module j) is on."""
    X, Y = data.numeric()
    rule = network.rule
    out = {}
    seeds = next(iter(init.values())).shape[0]
    samples = len(rule.pairs) * X[rule.inputs[0]].shape[1]
    losses = np.zeros((seeds, epochs + 1))
    for s in range(seeds):
        W = {e: w[s].copy() for e, w in init.items()}
        for epoch in range(epochs + 1):
            grads = {e: np.zeros_like(w) for e, w in W.items()}
            for i, j in rule.pairs:
                xi, yj = X[rule.inputs[i]], Y[rule.outputs[j]]
                a, o = f"in{i}", f"out{j}"
                h1 = W[a] @ xi
                h2 = W["shared"] @ h1
                err = yj - W[o] @ h2
                losses[s, epoch] += 0.5 * np.sum(err ** 2) / samples
                grads[o] += err @ h2.T
                back = W[o].T @ err
                grads["shared"] += back @ h1.T
                grads[a] += (W["shared"].T @ back) @ xi.T
            if epoch == epochs:
                break
            for e in W:
                W[e] += lr * grads[e]
        for e, w in W.items():
            out.setdefault(e, []).append(w)
    return {e: np.stack(v) for e, v in out.items()}, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=500)
    args = parser.parse_args()
    network = load_network(EXAMPLES / "routing.toml")
    data = load_data(EXAMPLES / "routing-data.toml")
    t0 = time.perf_counter()
    report = gated_report(network, data)
    t1 = time.perf_counter()
    print(f"derive + race report: {t1 - t0:.1f} s ({len(report['modes'])} modes)")
    lr = network.training.lr
    theory = gated_theory(network, data)
    for time_kind in ("discrete", "continuous"):
        t0 = time.perf_counter()
        gated_prediction(theory, lr, args.epochs, network.training.start,
                         time=time_kind).payload()
        print(f"predict {args.epochs} epochs ({time_kind} time): "
              f"{time.perf_counter() - t0:.1f} s")
    init = gated_initial_weights(network, init_std=0.01, seeds=args.seeds, seed=0)
    t0 = time.perf_counter()
    run = gated_simulate(network, data, lr, args.epochs, init=init, record_every=1)
    t1 = time.perf_counter()
    plain, losses = plain_loop(network, data, lr, args.epochs, init)
    t2 = time.perf_counter()
    worst = max(float(np.abs(run.weights[e] - plain[e]).max()) for e in plain)
    loss_gap = float(np.abs(run.loss - losses).max())
    print(f"simulate {args.seeds} seeds × {args.epochs} epochs (loss every epoch): batched "
          f"{t1 - t0:.2f} s, plain loop {t2 - t1:.2f} s, ratio {(t2 - t1) / (t1 - t0):.1f}×; "
          f"largest weight difference {worst:.1e}, loss difference {loss_gap:.1e}")


if __name__ == "__main__":
    main()
