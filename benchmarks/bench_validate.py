"""The warm path of ``modspec validate``, measured side by side in one run (ratios).

What a user runs: ``modspec validate --arch A --seeds 10 --out DIR`` for the dense, split and
shallow networks (warm derivation and code caches), each a fresh process: PyTorch training of
10 seeds, the theory of the run, the comparison with verdicts, JSON and three figures.

Baseline, like for like: a plain script per architecture, as a study's own scripts are
written — NumPy gradient descent of one seed recording the mode strengths, quadrant norms and
losses every epoch, closed forms typed in, three matplotlib figures through pyplot — also a
fresh process each. The ratio is modspec's time over the baseline's (below 1: faster).

Then the split of modspec's time, in one process per stage, for one architecture: imports,
derivation, training, theory and comparison, outputs (JSON and figures); and ``modspec --help``.

    python benchmarks/bench_validate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

ARCHS = ("dense", "split", "shallow")

#: The baseline: what a hand-written study script does for one architecture (one seed).
BASELINE = textwrap.dedent('''
    import sys
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arch, out = sys.argv[1], sys.argv[2]
    nx, ny, kx, ky, r = 3, 1, 3, 1, 1.0
    P = 2 ** nx
    omega = np.array([[1 - 2 * ((j >> i) & 1) for j in range(P)] for i in range(nx)], float)
    X = np.vstack([omega] + [r * np.eye(P)] * kx)
    Y = np.vstack([omega[:ny]] + [r * np.eye(P)] * ky)
    sx, syx = X @ X.T / P, Y @ X.T / P
    U, S, Vt = np.linalg.svd(syx)
    lr, epochs, hidden = 0.005, 2400, 50
    tau = 1 / (P * lr)
    rng = np.random.default_rng(0)
    rows = {"Ox": slice(0, nx), "Gx": slice(nx, nx + kx * P)}
    cols = {"Oy": slice(0, ny), "Gy": slice(ny, ny + ky * P)}
    # modules: (output rows, depth); split = one deep module per output block
    outs = {"dense": [(slice(0, Y.shape[0]), 2)], "shallow": [(slice(0, Y.shape[0]), 1)],
            "split": [(cols["Oy"], 2), (cols["Gy"], 2)]}[arch]
    nets = []
    for rows_o, depth in outs:
        n_out = rows_o.stop - rows_o.start
        dims = [X.shape[0]] + [hidden] * (depth - 1) + [n_out]
        nets.append([rng.normal(0, 2e-4, (dims[i + 1], dims[i])) for i in range(depth)])
    modes, quads, losses = [], [], []
    for t in range(epochs + 1):
        maps = [n[0] if len(n) == 1 else n[1] @ n[0] for n in nets]
        W = np.vstack(maps)
        R = syx - W @ sx
        modes.append(np.diag(U.T @ W @ Vt.T)[:3])
        quads.append([np.linalg.norm(W[cols[o], rows[i]]) for o in cols for i in rows])
        losses.append([np.trace(Y[cols[o]] @ Y[cols[o]].T) / P
                       - np.sum((syx[cols[o]] + R[cols[o]]) * W[cols[o]]) for o in cols])
        if t == epochs:
            break
        for n, (rows_o, _) in zip(nets, outs):
            G = R[rows_o]
            if len(n) == 1:
                n[0] = n[0] + G / tau
            else:
                W1, W2 = n
                n[0], n[1] = W1 + W2.T @ G / tau, W2 + G @ W1.T / tau
    modes, quads, losses = map(np.array, (modes, quads, losses))
    t = np.arange(epochs + 1)
    lam = np.linalg.eigvalsh(sx)[::-1][:3]
    a0 = np.abs(modes[0]) + 1e-12
    theory = (S[:3] / lam) / (1 - (1 - S[:3] / (lam * a0)) * np.exp(-2 * S[:3] * t[:, None] / tau))
    for name, data, th in (("modes", modes, theory), ("quadrants", quads, None),
                           ("losses", losses, None)):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(t, data)
        if th is not None:
            ax.plot(t, th, "--")
        fig.tight_layout()
        fig.savefig(f"{out}/{name}.png", dpi=110)
        plt.close(fig)
''')


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def split_of_time(out: str) -> dict[str, float]:
    """Stages of one ``validate`` call (dense, 10 seeds) in a fresh process."""
    code = textwrap.dedent(f'''
        import json, time
        t0 = time.perf_counter()
        import modspec as ms
        from modspec.validation.pipeline import assess, with_theory_checks, write_outputs
        from modspec.validation.training import train
        import torch
        t1 = time.perf_counter()
        ds = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
        net = ms.architectures.dense()
        th = ms.derive(ds, net)
        t2 = time.perf_counter()
        run = train(ds, net, lr=0.005, epochs=2400, seeds=10, device="cpu")
        t3 = time.perf_counter()
        a = with_theory_checks(assess(th, run))
        t4 = time.perf_counter()
        write_outputs(a, {out!r})
        t5 = time.perf_counter()
        print(json.dumps({{"imports (modspec, torch)": t1 - t0, "derive": t2 - t1,
                          "train (torch, 10 seeds)": t3 - t2,
                          "theory of the run + compare": t4 - t3,
                          "JSON + 3 figures": t5 - t4}}))
    ''')
    import json

    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (best is kept)")
    args = parser.parse_args()
    exe = [sys.executable, "-m", "modspec"]
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "baseline.py")
        with open(script, "w") as fh:
            fh.write(BASELINE)
        for arch in ARCHS:  # warm the derivation and code caches
            subprocess.run([*exe, "validate", "--arch", arch, "--seeds", "1", "--epochs", "1",
                            "--no-figures", "--out", os.path.join(tmp, "warm")], check=True,
                           stdout=subprocess.DEVNULL)
        ours: dict[str, list[float]] = {"torch": [], "numpy": []}
        base = []
        for _ in range(args.repeat):
            for backend, times in ours.items():
                times.append(sum(timed([*exe, "validate", "--arch", a, "--seeds", "10",
                                        "--backend", backend, "--out", os.path.join(tmp, a)])
                                 for a in ARCHS))
            base.append(sum(timed([sys.executable, script, a, tmp]) for a in ARCHS))
        b = min(base)
        print("three architectures (dense, split, shallow), warm, fresh process each:")
        print(f"  baseline scripts, 1 seed, figures only:                    {b:6.2f} s")
        for backend, times in ours.items():
            o = min(times)
            print(f"  modspec validate --backend {backend:<5}, 10 seeds, verdicts: {o:6.2f} s "
                  f"({o / len(ARCHS):.2f} s per architecture; ratio to baseline {o / b:.2f})")
        imports = timed([sys.executable, "-c", "import sympy, matplotlib.figure"])
        torch_import = timed([sys.executable, "-c", "import torch"])
        print(f"  floor of a fresh process: import sympy + matplotlib {imports:.2f} s, "
              f"import torch {torch_import:.2f} s")
        helps = [timed([*exe, "--help"]) for _ in range(3)]
        print(f"modspec --help: {min(helps):.3f} s")
        print("split of one validate call (dense, 10 seeds, fresh process):")
        for stage, seconds in split_of_time(os.path.join(tmp, "split")).items():
            print(f"  {stage:<30} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
