"""Compositional MNIST: seeds trained together against one at a time, on the same device.

Trains the dense and the split CNN of the quick configuration (or the reference sizes with
``--reference``) for a few epochs, first as one batched group of all seeds (parameters stacked
along a seed axis, one ``vmap``-ed step for every seed), then seed by seed, on the same device,
in one run, and prints the time per epoch of each and their ratio. Both paths compute the same
networks (checked here on the final training errors). This machine may be shared: the ratio of
the two timings, taken side by side, is the number to read.

    python benchmarks/bench_cmnist.py [--device cpu|cuda] [--seeds 5] [--epochs 2] [--reference]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--reference", action="store_true",
                        help="reference sizes (3 positions, 20,000 images) instead of quick")
    args = parser.parse_args()

    import torch

    from modspec.validation.cmnist.config import CMNISTConfig
    from modspec.validation.cmnist.dataset import build
    from modspec.validation.cmnist.presets import QUICK, REFERENCE
    from modspec.validation.cmnist.seeds import SeedGroup, data_tensors
    from modspec.validation.training import resolve_device

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    preset = dict(REFERENCE if args.reference else QUICK, seeds=args.seeds,
                  epochs=args.epochs, threads=args.threads)
    config = CMNISTConfig(device=device, **preset)
    data = build(config.source, config.positions, config.n_train, config.n_test,
                 config.holdout, config.r, config.data_seed)
    tensors = data_tensors(data, config, device)
    seeds = config.seed_list
    print(f"device {device}, {args.threads} CPU thread(s); {config.positions} positions, "
          f"{config.n_train} images, batch {config.batch}, {len(seeds)} seeds, "
          f"{args.epochs} epochs")

    def train(group_seeds: list[int], arch: str) -> tuple[float, list[float]]:
        group = SeedGroup(tensors, arch, group_seeds, config, device, data.image_shape,
                          data.positions)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for epoch in range(1, args.epochs + 1):
            group.train_epoch(epoch)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        took = time.perf_counter() - start
        group.evaluate(args.epochs)
        return took, [c[-1] for c in group.curves["train"]["compositional"]]

    for arch in ("dense", "split"):
        together, err_together = train(seeds, arch)
        alone = [train([s], arch) for s in seeds]
        one_at_a_time = sum(t for t, _ in alone)
        err_alone = [e[0] for _, e in alone]
        same = np.allclose(err_together, err_alone, rtol=1e-4)
        print(f"{arch:5s}: together {together / args.epochs:7.2f} s/epoch, one at a time "
              f"{one_at_a_time / args.epochs:7.2f} s/epoch → together is "
              f"{one_at_a_time / together:.2f}× faster; same networks: {same}")


if __name__ == "__main__":
    main()
