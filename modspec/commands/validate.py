"""``modspec validate``: theory against trained networks — metrics, figures, verdicts.

Without ``--claims``: train one architecture (PyTorch by default, or the NumPy simulator),
derive and compile its theory, compare (mode-aligned errors, half-rise times, end points,
systematicity, held-out error) and write ``comparison.json``, ``training.json`` and figures
to ``--out``. With ``--claims``: the four claims of theory.md §4.5 (``claims.json``,
``claims.txt`` and figures of every run). Times are epochs of full-batch gradient descent,
``τ = 1/(P_train·lr)``. Exit status 1 with ``--strict`` when a verdict fails.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from .options import (
    add_architecture_options,
    add_dataset_options,
    add_objects_option,
    dataset_from,
    network_from,
    parse_objects,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate", help="theory vs trained networks: metrics, figures, verdicts",
        description="Train networks (PyTorch or NumPy) and compare them with the derived "
                    "theory; --claims runs the four claims of theory.md §4.5.")
    add_dataset_options(p)
    add_architecture_options(p)
    g = p.add_argument_group("training")
    g.add_argument("--lr", type=float, default=None,
                   help="learning rate (default 0.005: τ = 25 epochs on D0)")
    g.add_argument("--epochs", type=int, default=None, help="epochs (default 2400)")
    g.add_argument("--hidden", type=int, default=50, help="hidden units per layer")
    g.add_argument("--init-std", type=float, default=2e-4, help="initial weight std")
    g.add_argument("--seeds", type=int, default=3, help="independent networks")
    g.add_argument("--seed", type=int, default=0, help="first seed")
    add_objects_option(g)
    g.add_argument("--nonlinearity", choices=("linear", "relu", "tanh"), default="linear")
    g.add_argument("--bias", action="store_true", help="biases in every layer")
    g.add_argument("--backend", choices=("torch", "numpy"), default="torch")
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    g.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    g.add_argument("--time", choices=("continuous", "discrete"), default="continuous",
                   help="theory to compare with: the gradient flow (default) or gradient "
                        "descent epoch by epoch (exact at any lr)")
    p.add_argument("--claims", action="store_true",
                   help="run the four claims of theory.md §4.5 instead of one architecture")
    add_objects_option(p, "--heldout", default=["2,5"],
                       help="objects held out in the --claims held-out runs (default 2,5)")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--strict", action="store_true", help="exit 1 when a verdict fails")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ds = dataset_from(args)
    os.makedirs(args.out, exist_ok=True)
    nonlin = None if args.nonlinearity == "linear" else args.nonlinearity
    if args.claims:
        return _claims(args, ds, nonlin)
    return _single(args, ds, nonlin)


def _single(args: argparse.Namespace, ds, nonlin) -> int:
    import modspec as ms
    from modspec.numerics.predict import compile as compile_theory
    from modspec.validation import figures
    from modspec.validation.compare import compare
    from modspec.validation.train import train

    net = network_from(args)
    lr = args.lr or 0.005
    epochs = args.epochs or 2400
    train_objects = parse_objects(args.train_objects, "--train-objects")
    tr = train(ds, net, backend=args.backend, device=args.device, dtype=args.dtype, lr=lr,
               epochs=epochs, hidden=args.hidden, init_std=args.init_std, seeds=args.seeds,
               seed=args.seed, train_objects=train_objects, nonlinearity=nonlin,
               bias=args.bias)
    th = ms.derive(ds, net)
    a0 = {k: max(float(np.mean(v)), 1e-12) for k, v in tr.a0.items()}
    if net.coupled:  # no closed form: the exact matrix flow from the same initial weights
        from modspec.validation.compare import flow_prediction

        pred = flow_prediction(ds, net, tr, args.time)
    else:
        pred = compile_theory(th)(tr.t, lr=lr, a0=a0, time=args.time)
    fixed = None if net.coupled else {k: float(m.fixed_point) for k, m in th.modes.items()}
    conv = None if net.coupled else {k: float(v)
                                     for k, v in th.converged["quadrant_norms"].items()}
    full_data = train_objects is None or len(train_objects) == int(ds.P)
    if net.coupled:
        conv = {q: float(v[-1]) for q, v in pred.quadrant_norms.items()}
    held_theory = None
    if not full_data and not (net.coupled and net.depth > 1):
        from modspec.theory.heldout import heldout

        # trained on a subset: the end point is the converged map of that subset
        held_theory = heldout(ds, net, train_objects).as_dict()
        conv = held_theory["quadrant_norms"]
    elif not full_data and not net.coupled:
        conv = None
    linear_theory = nonlin is None
    comp = compare(pred, tr, dataset=ds, fixed_points=fixed,
                   converged=conv if linear_theory else None,
                   check_trajectories=linear_theory and full_data and not net.coupled
                   and net.depth <= 2, own_end=not linear_theory,
                   judge_end_points=linear_theory)
    systematic = th.converged.get("systematic") if not net.coupled else False
    if systematic is not None and "Gx->Oy" in comp.systematicity:
        from modspec.validation.claims import CLAIM_TOLERANCES
        from modspec.validation.compare import verdict

        gx = comp.systematicity["Gx->Oy"]
        comp.verdicts["systematicity as theory"] = (
            verdict(gx, CLAIM_TOLERANCES["zero"], "final ‖Gx→Oy‖ (theory: systematic, 0)")
            if systematic else
            verdict(gx, CLAIM_TOLERANCES["nonzero"], "final ‖Gx→Oy‖ (theory: not systematic)",
                    below=False))
    if held_theory is not None and linear_theory and tr.heldout is not None:
        from modspec.validation.claims import CLAIM_TOLERANCES
        from modspec.validation.compare import verdict

        sim_err = float(np.mean(tr.heldout["compositional_error"][:, -1]))
        comp.verdicts["held-out error"] = verdict(
            abs(sim_err - held_theory["compositional_error"]), CLAIM_TOLERANCES["heldout_abs"],
            "|held-out compositional error sim − theory|")
    result = comp.as_dict()
    result["architecture"] = net.name
    result["nonlinearity"] = nonlin or "linear"
    result["tau_epochs"] = float(tr.tau)
    if held_theory is not None:
        result["heldout_theory"] = held_theory
    with open(os.path.join(args.out, "comparison.json"), "w") as fh:
        json.dump(result, fh, indent=2, default=float)
    with open(os.path.join(args.out, "training.json"), "w") as fh:
        fh.write(tr.to_json())
    if not args.no_figures:
        title = f"{net.name} ({nonlin or 'linear'}), lr {lr}"
        figures.modes_figure(pred, tr, os.path.join(args.out, "modes.png"), title)
        figures.quadrants_figure(pred, tr, os.path.join(args.out, "quadrants.png"), title)
        figures.losses_figure(pred, tr, os.path.join(args.out, "losses.png"), title)
        if tr.heldout is not None:
            figures.heldout_figure({net.name: tr.heldout["compositional_error"]}, tr.t,
                                   os.path.join(args.out, "heldout.png"), title)
    passed = sum(v["passed"] for v in comp.verdicts.values())
    print(f"{net.name} ({nonlin or 'linear'}): {passed}/{len(comp.verdicts)} checks passed")
    for name, v in comp.verdicts.items():
        print(f"  [{'ok ' if v['passed'] else 'BAD'}] {name}: {v['value']:.6g} {v['test']} "
              f"{v['tolerance']:.3g}")
    for k, v in comp.systematicity.items():
        print(f"  {k}: {v:.6g}")
    return 1 if args.strict and not comp.passed else 0


def _claims(args: argparse.Namespace, ds, nonlin) -> int:
    from dataclasses import replace

    from modspec.validation import figures
    from modspec.validation.claims import RELU, ClaimsConfig, run_claims

    base = RELU if nonlin == "relu" else ClaimsConfig(nonlinearity=nonlin)
    changes = {"seeds": args.seeds, "seed": args.seed, "hidden": args.hidden,
               "init_std": args.init_std, "device": args.device, "dtype": args.dtype,
               "bias": args.bias, "heldout": tuple(parse_objects(args.heldout, "--heldout") or ()),
               "time": args.time}
    if args.lr:
        changes["lr"] = args.lr
    if args.epochs:
        changes["epochs"] = args.epochs
    cfg = replace(base, **changes)
    from modspec.validation.report import jsonable

    report = run_claims(ds, cfg, progress=lambda line: print(line, flush=True))
    with open(os.path.join(args.out, "claims.json"), "w") as fh:
        json.dump(jsonable(report.as_dict()), fh, indent=1)
    text = report.text()
    with open(os.path.join(args.out, "claims.txt"), "w") as fh:
        fh.write(text + "\n")
    if not args.no_figures:
        for name, r in report.runs.items():
            stem = os.path.join(args.out, name.replace("/", "-"))
            if r.prediction is not None:
                figures.modes_figure(r.prediction, r.training, stem + "-modes.png", name)
                figures.quadrants_figure(r.prediction, r.training, stem + "-quadrants.png",
                                         name)
                figures.losses_figure(r.prediction, r.training, stem + "-losses.png", name)
        held = {n.split("/")[0]: r.training.heldout["compositional_error"]
                for n, r in report.runs.items() if r.training.heldout is not None}
        if held:
            times = {n.split("/")[0]: r.training.t for n, r in report.runs.items()
                     if r.training.heldout is not None}
            figures.heldout_figure(held, times, os.path.join(args.out, "heldout.png"))
    print(text)
    return 1 if args.strict and not report.passed else 0
