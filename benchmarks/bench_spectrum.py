"""Symbolic spectrum derivation versus numeric SVD as the family grows.

The projector-algebra derivation of the family's spectrum works on three atoms with symbolic
ranks, so its cost does not depend on nx; the numeric route must materialise Σyx, whose size
grows like 2**nx. Prints, measured side by side in one run, the derivation time for the
symbolic family, the time to evaluate it at each nx, and the numeric SVD time at each nx, with
the ratio numeric / symbolic.

    python benchmarks/bench_spectrum.py [--nx 4 8 12] [--kx 3 --ky 1]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import best_of as timed

import modspec as ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nx", type=int, nargs="+", default=[4, 8, 12])
    parser.add_argument("--kx", type=int, default=3)
    parser.add_argument("--ky", type=int, default=1)
    args = parser.parse_args()

    t_sym, spec = timed(lambda: ms.spectrum(ms.CompositionalDataset.symbolic()))
    print(f"symbolic family derivation (any size): {t_sym * 1e3:9.1f} ms")
    print(f"{'nx':>3} {'P':>6} {'evaluate ms':>12} {'numeric SVD ms':>15} {'SVD / derive':>13}")
    for nx in args.nx:
        ds = ms.CompositionalDataset(nx=nx, ny=1, kx=args.kx, ky=args.ky, r=1)
        t_eval, num = timed(lambda ds=ds: spec.subs(ds.sympy_params), repeat=3)

        def svd(ds=ds) -> np.ndarray:
            X, Y = ds.X, ds.Y
            return np.linalg.svd(Y @ X.T / X.shape[1], compute_uv=False)

        t_svd, sv = timed(svd)
        top = num.singular_values()[:3]
        assert np.allclose(sv[: len(top)], top, rtol=1e-8), (sv[:3], top)
        print(f"{nx:>3} {2**nx:>6} {t_eval * 1e3:12.2f} {t_svd * 1e3:15.1f} "
              f"{t_svd / t_sym:13.2f}")


if __name__ == "__main__":
    main()
