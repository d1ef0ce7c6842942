"""The networks of one architecture, one per seed, trained together on one device.

Their parameters are stacked along a leading seed axis and each SGD step is one batched
(``torch.func.vmap``) forward and backward pass; each seed keeps its own initialisation and
mini-batch order, so the result equals training the seeds one at a time (to float rounding).
Errors are normalised as in docs/theory/cmnist.md (:mod:`.run`). PyTorch is imported inside
the methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from modspec.theory.errors import bad

from .cnn import build_cnn, initialise
from .config import EVAL_CHUNK, CMNISTConfig

if TYPE_CHECKING:
    from .dataset import CompositionalMNIST

__all__ = ["PARTS", "SPLITS", "SeedGroup", "data_tensors"]

#: Where errors are measured, and the two parts of the targets.
SPLITS = ("train", "seen", "heldout")
PARTS = ("compositional", "noncompositional")


class SeedGroup:
    """The networks of one architecture, one per seed, trained together on one device.

    Seed ``s`` is initialised exactly as ``torch.manual_seed(s); build_cnn(...)`` then
    :func:`~modspec.validation.cmnist.cnn.initialise`, and draws its mini-batch order from its own
    generator seeded with ``s``. With one seed no ``vmap`` is used: that is training one
    network at a time.
    """

    def __init__(self, data: Mapping[str, Any], arch: str, seeds: Sequence[int],
                 config: CMNISTConfig, device: str, image_shape: tuple[int, int],
                 positions: int) -> None:
        import torch

        self.arch, self.seeds, self.config, self.device = arch, list(seeds), config, device
        self.positions, self.data = positions, data
        models = []
        for s in self.seeds:
            torch.manual_seed(s)
            model = build_cnn(arch, image_shape, positions)
            initialise(model, config.init)
            models.append(model)
        self.base = build_cnn(arch, image_shape, positions).to("meta")
        self.params = {name: torch.stack([dict(m.named_parameters())[name].detach()
                                          for m in models]).to(device).requires_grad_()
                       for name, _ in models[0].named_parameters()}
        self.gens = [torch.Generator().manual_seed(s) for s in self.seeds]
        self.epochs: list[int] = []
        self.curves = {s: {p: [[] for _ in self.seeds] for p in PARTS} for s in SPLITS}

    # forward pass of every seed: x is (S, b, 1, H, W), or (b, 1, H, W) shared by all seeds
    def forward(self, params: Mapping[str, Any], x: Any) -> Any:
        from torch.func import functional_call, vmap

        shared = x.dim() == 4
        if len(self.seeds) == 1:
            one = {k: v[0] for k, v in params.items()}
            return functional_call(self.base, one, (x if shared else x[0],))[None]
        return vmap(lambda p, xx: functional_call(self.base, p, (xx,)),
                    in_dims=(0, None if shared else 0))(params, x)

    def train_epoch(self, epoch: int) -> None:
        """One epoch of SGD for every seed; stops with the epoch if a seed diverges."""
        import torch

        x_tr, y_tr = self.data["train"]
        n, b = x_tr.shape[0], self.config.batch
        params = list(self.params.values())
        perms = torch.stack([torch.randperm(n, generator=g) for g in self.gens]).to(self.device)
        total = torch.zeros(len(self.seeds), device=self.device)
        for a in range(0, n, b):
            idx = perms[:, a:a + b]
            out = self.forward(self.params, x_tr[idx])
            per_seed = ((out - y_tr[idx]) ** 2).sum(dim=-1).mean(dim=-1)
            grads = torch.autograd.grad(per_seed.sum(), params)
            with torch.no_grad():   # plain SGD (the update of torch.optim.SGD, no momentum)
                for p, g in zip(params, grads, strict=True):
                    p.add_(g, alpha=-self.config.lr)
            total += per_seed.detach()
        self._check_finite(total.cpu().numpy(), epoch)

    def _check_finite(self, losses: np.ndarray, epoch: int) -> None:
        """Stop, naming the seed and the epoch, when a seed's training loss is not finite."""
        finite = np.isfinite(losses)
        if not finite.all():
            s = self.seeds[int(np.flatnonzero(~finite)[0])]
            if epoch == 0:                      # before any step: the start is the cause
                raise bad("init", self.config.init,
                          f"the {self.arch} network (seed {s}) starts with a training loss "
                          "that is not finite (before any step); use a smaller init "
                          "(small: N(0, 0.01²))")
            raise bad("lr", self.config.lr,
                      f"SGD diverged: the training loss of the {self.arch} network (seed {s}) "
                      f"is not finite at epoch {epoch}; use a smaller learning rate "
                      "(reference 2e-3)")

    def evaluate(self, epoch: int) -> None:
        """Append every seed's normalised errors on the three splits at ``epoch``."""
        import torch

        self.epochs.append(epoch)
        n_comp, r = 10 * self.positions, self.data["r"]
        with torch.no_grad():
            for split in SPLITS:
                x, y = self.data["train_eval"] if split == "train" else self.data[split]
                n = x.shape[0]
                comp = torch.zeros(len(self.seeds), dtype=torch.float64, device=self.device)
                non = torch.zeros_like(comp)
                for a in range(0, n, EVAL_CHUNK):
                    err = (self.forward(self.params, x[a:a + EVAL_CHUNK])
                           - y[a:a + EVAL_CHUNK]) ** 2
                    comp += err[..., :n_comp].sum(dim=(1, 2)).double()
                    non += err[..., n_comp:].sum(dim=(1, 2)).double()
                values = {"compositional": (comp / max(n, 1) / self.positions).cpu().numpy(),
                          "noncompositional": (non / max(n, 1) / r**2).cpu().numpy()}
                if split == "train":
                    self._check_finite(np.minimum(*values.values()), epoch)
                for part, v in values.items():
                    for k in range(len(self.seeds)):
                        self.curves[split][part][k].append(float(v[k]) if n else float("nan"))

    def train_curves(self, k: int) -> dict[str, list[float]]:
        return {p: self.curves["train"][p][k] for p in PARTS}

    # checkpoint: plain arrays only (read back with allow_pickle=False)
    def state(self) -> dict[str, np.ndarray]:
        out = {f"{self.arch}/param/{k}": v.detach().cpu().numpy() for k, v in self.params.items()}
        for k, g in enumerate(self.gens):
            out[f"{self.arch}/gen/{k}"] = g.get_state().numpy()
        out[f"{self.arch}/epochs"] = np.asarray(self.epochs, dtype=np.int64)
        for split in SPLITS:
            for part in PARTS:
                out[f"{self.arch}/curves/{split}/{part}"] = np.asarray(
                    self.curves[split][part], dtype=np.float64).reshape(len(self.seeds), -1)
        return out

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        import torch

        with torch.no_grad():
            for k, v in self.params.items():
                saved = state[f"{self.arch}/param/{k}"]
                if saved.shape != tuple(v.shape):
                    raise ValueError(f"checkpoint shape of {k}")
                v.copy_(torch.as_tensor(saved))
        for k, g in enumerate(self.gens):
            g.set_state(torch.as_tensor(state[f"{self.arch}/gen/{k}"]))
        self.epochs = [int(e) for e in state[f"{self.arch}/epochs"]]
        for split in SPLITS:
            for part in PARTS:
                self.curves[split][part] = [
                    [float(v) for v in row]
                    for row in state[f"{self.arch}/curves/{split}/{part}"]]


def data_tensors(data: CompositionalMNIST, config: CMNISTConfig, device: str) -> dict[str, Any]:
    """The dataset's images and targets as tensors resident on ``device``."""
    import torch

    def tensors(split: Any) -> tuple[Any, Any]:
        return (torch.as_tensor(split.images, device=device),
                torch.as_tensor(data.targets(split.digits), device=device))

    x_tr, y_tr = tensors(data.train)
    ev_n = min(config.eval_train, len(data.train))
    return {"train": (x_tr, y_tr), "train_eval": (x_tr[:ev_n], y_tr[:ev_n]),
            "seen": tensors(data.test_seen), "heldout": tensors(data.test_heldout),
            "r": data.r}
