"""``--network FILE.toml`` on derive, predict, simulate and validate: gated networks.

Not a command of its own: :mod:`modspec.commands.derive`, ``predict``, ``simulate`` and
``validate`` hand over here when ``--network`` is given (docs/theory/gated.md). The network is
read with :func:`modspec.theory.gated_toml.load_network`, its data from the ``--dataset`` file
(``family = "gated"``, or any family's blocks bound to the layers by name:
:func:`modspec.theory.gated_data.data_for`); every option of the
modular networks set with it is refused in one line (:data:`MODULAR`). ``derive`` prints
:func:`modspec.numerics.gated_report.gated_report`; ``predict`` the race
(:func:`modspec.numerics.gated_predict.gated_prediction`), ``simulate`` a batched run
(:func:`~modspec.numerics.gated_predict.stepped_run`), both in the JSON contract of
:meth:`modspec.numerics.record.Trajectory.payload`; ``validate`` the judgement of
:mod:`modspec.validation.gated_validate`.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from typing import Any

from modspec.theory.defaults import SEED
from modspec.theory.errors import ModspecError, bad

__all__ = ["MODULAR", "NETWORK_HELP", "add_network_options", "derive_network", "derive_symbolic",
           "hands_over", "load", "predict_network", "refuse_architecture", "simulate_network",
           "start_of", "validate_network"]

NETWORK_HELP = ("a gated network declared in TOML (layers, edges, gates; docs/theory/gated.md); "
                "--dataset then names its data (family = gated, or any family: its blocks feed the "
                "layers of the same names): prints the pathways, the "
                "basis condition and, mode by mode, the race: equations, conserved quantities, "
                "fixed points of flow and gradient descent, half-rise times")


def derive_network(args: argparse.Namespace) -> int:
    """Validate everything first, then derive and print the report (with ``--symbolic``,
    the race on the dataset family of symbolic sizes: :func:`derive_symbolic`)."""
    from modspec.theory.gated_data import data_for

    refuse_architecture(args)
    if getattr(args, "standalone", False) and args.format != "latex":
        raise bad("--standalone", True, "needs --format latex")
    if args.symbolic:
        return derive_symbolic(args)
    network = _network_file(args)
    data = data_for(args.dataset, network)
    check_sizes(network)
    from modspec.numerics.gated_report import gated_report, report_latex

    report = gated_report(network, data)
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return 0
    if args.format == "latex":
        from modspec.theory.latex_base import latex_document

        fragment = report_latex(report)
        print(latex_document(fragment) if args.standalone else fragment)
        return 0
    print(_text(report))
    return 0


def derive_symbolic(args: argparse.Namespace) -> int:
    """``derive --network --symbolic``: the family of ``--dataset`` (the compositional family
    without it) with its sizes and scales as symbols
    (:func:`modspec.theory.families.symbolic`), and the race of the network on it
    (:func:`modspec.theory.gated_family.family_modes`) as text, JSON or LaTeX."""
    from modspec.theory.gated_toml import load_network

    network = load_network(args.network)
    check_sizes(network)
    if args.dataset is None:
        from modspec.theory.dataset import CompositionalDataset

        dataset = CompositionalDataset.symbolic()
    else:
        from modspec.theory.families import symbolic

        dataset = symbolic(args.dataset)
    from modspec.theory import gated_family_report as report
    from modspec.theory.gated_family import family_modes

    result = family_modes(network, dataset)
    if args.format == "json":
        print(json.dumps(report.family_payload(result), indent=2))
    elif args.format == "latex":
        from modspec.theory.latex_base import latex_document

        fragment = report.family_latex(result)
        print(latex_document(fragment) if getattr(args, "standalone", False) else fragment)
    else:
        print(report.family_text(result))
    return 0


def _network_file(args: argparse.Namespace) -> object:
    """The network of ``--network`` (:func:`modspec.theory.gated_toml.load_network`), which
    needs ``--dataset`` (its data)."""
    from modspec.theory.gated_toml import load_network

    network = load_network(args.network)
    if args.dataset is None:
        raise ModspecError("--network needs --dataset FILE.toml: the network's data "
                           "(family = gated, or any family by block name)")
    return network


def _text(report: dict) -> str:
    lines = [f"network {report['network']}: {report['contexts']} contexts × "
             f"{report['items']} items = {report['samples']} samples; "
             f"{len(report['pathways']['trained'])} trained pathways, "
             f"{len(report['pathways']['untrained'])} untrained"]
    cond = report["basis_condition"]
    if not cond["holds"]:
        lines.append(cond["reason"])
        lines += [f"τ d{e}/dt = {r}" for e, r in report["matrix_flow"].items()]
        return "\n".join(lines)
    lines.append("the gated statistics share singular vectors: the race reduction holds")
    for m in report["modes"]:
        lines.append(f"mode {m['mode']}: {len(m['edges'])} edges")
        lines += [f"  conserved: {q}" for q in m["conserved"]]
        lines += _reduction_lines(m["reduction"])
        if "fixed_point_gradient_descent" in m:
            gd = m["fixed_point_gradient_descent"]
            fl = m["fixed_point_flow"]
            lines.append("  gradient descent ends at " + ", ".join(
                f"{e}={v:.6g}" for e, v in gd["strengths"].items())
                + f" ({'attracting' if gd['attracting'] else 'not attracting'})")
            lines.append("  the flow ends at " + ", ".join(
                f"{e}={v:.6g}" for e, v in fl["strengths"].items()))
            lines.append(f"  first to half-rise: {m['winner']} (gradient descent), "
                         f"{m['winner_flow']} (gradient flow)")
    return "\n".join(lines)


def _reduction_lines(red: dict) -> list[str]:
    """A mode's symmetric reduction and how its flow is solved (``derive``'s text)."""
    alike = [" = ".join(o) for o in red["orbits"] if len(o) > 1]
    lines = [f"  alike edges: {'; '.join(alike)}"] if alike else []
    if "method" not in red:
        return lines
    one = red.get("one_variable")
    if one is None:
        return [*lines, f"  gradient flow integrated: {red['why']}"]
    v = one["variable"]
    lines.append(f"  gradient flow ({red['method']}): tau*d{v}/dt = {one['rate']['text']}")
    lines += [f"    {u} = {r['text']}" for u, r in one["relations"].items() if u != v]
    return [*lines, f"    {one['solution_is']} = {one['solution']['text']}"]


# ---------------------------------------------------- predict, simulate, validate --network
#: Options of the modular networks that mean nothing for a gated network, with the values
#: they may keep: any other value together with --network is refused (one line, exit 2).
MODULAR: dict[str, tuple] = {
    "arch": ("dense",), "depth": (2,), "rule": ("gradient-descent",), "gamma": (None,),
    "nabla": (None,), "init": ("random",), "lam": (0.0,), "init_scale": (1.0,),
    "train_objects": (None,), "hidden": (None, 50), "symbolic": (False,),
    "claims": (False,), "nonlinearity": ("linear",), "bias": (False,),
    "time": (None, "discrete"), "a0": (1e-6,), "standalone": (False,)}

RUN_HELP = ("a gated network declared in TOML (docs/theory/gated.md) instead of --arch; "
            "--dataset then names its data (family = gated, or any family by block name)")
START_HELP = ("with --network: the aligned start, strength of every edge on every mode "
              "(> 0; default: the network's [training] start)")


def add_network_options(parser: argparse.ArgumentParser, start: bool = True) -> None:
    """``--network FILE.toml`` (and ``--start``) on predict, simulate and validate."""
    from modspec.commands.options import number

    g = parser.add_argument_group("gated network (docs/theory/gated.md)")
    g.add_argument("--network", default=None, metavar="FILE.toml", help=RUN_HELP)
    if start:
        g.add_argument("--start", type=number(0, strict=True), default=None, help=START_HELP)


def refuse_architecture(args: argparse.Namespace) -> None:
    """``--arch`` or ``--depth`` given (on the line or in ``--config``, whatever the value)
    together with ``--network``: one line (:class:`modspec.commands.options.Given` notes
    which options were given)."""
    for name in ("arch", "depth"):
        if name in getattr(args, "given", ()):
            raise ModspecError(f"--{name}={getattr(args, name)} is invalid with --network: "
                               "it sets the modular network (a gated network declares its "
                               "own layers, edges and gates); drop one of them")


def load(args: argparse.Namespace, allowed: dict | None = None) -> tuple:
    """The network and its data, after refusing every modular option set with --network
    (``allowed`` adds values a command's defaults give)."""
    from modspec.theory.gated_data import data_for

    refuse_architecture(args)
    for name, values in {**MODULAR, **(allowed or {})}.items():
        if hasattr(args, name) and getattr(args, name) not in values:
            flag = "--" + name.replace("_", "-")
            why = ("the race is gradient descent epoch by epoch (discrete time)"
                   if name == "time" else "it sets the modular network (a gated network "
                   "declares its own layers, edges and gates)")
            raise ModspecError(f"{flag}={getattr(args, name)} is invalid with --network: "
                               f"{why}; drop one of them")
    network = _network_file(args)
    data = data_for(args.dataset, network)
    check_sizes(network, getattr(args, "epochs", None))
    return network, data


def check_sizes(network: Any, epochs: Any = None) -> None:
    """Refuse, before any work, a network whose matrices do not fit the memory (every edge's
    matrix and square matrices of the widest layer: projections, identities), or a run whose
    record (every epoch: a loss and a norm per edge at least) exceeds the output budget."""
    from modspec.numerics.budget import check_memory, check_output

    size = {x.name: int(x.size) for x in network.layers}
    widest = max(size.values())
    check_memory(8 * (widest * widest + sum(size[e.source] * size[e.target]
                                             for e in network.edges)),
                 f"layer size {widest}")
    if isinstance(epochs, int) and epochs > 0:
        check_output(epochs + 1, f"--epochs={epochs}", "a gated network records every epoch: "
                     "ask for fewer epochs", series=1 + len(network.edges))


def start_of(args: argparse.Namespace, network: object, required: bool) -> float | None:
    """``--start``, else the network's ``[training]`` start (None when neither is given
    and it is not ``required``)."""
    if args.start is not None:
        return float(args.start)
    training = getattr(network, "training", None)
    if training is not None:
        return training.start
    if required:
        raise ModspecError("--network needs --start (the aligned start) or a [training] "
                           "table with start in the network file")
    return None


def predict_network(args: argparse.Namespace) -> int:
    """``modspec predict --network``: the race (or, where the basis condition fails, the
    exact matrix dynamics, said in one line on stderr) as the predict contract; gradient
    descent epoch by epoch, or with ``--time continuous`` the gradient flow."""
    import sys

    from modspec.commands.predict import print_payload

    network, data = load(args, {"time": (None, "discrete", "continuous")})
    start = start_of(args, network, required=True)
    from modspec.numerics.gated_predict import gated_prediction, gated_theory

    theory = gated_theory(network, data)
    seed = SEED if args.seed is None else args.seed
    if theory.modes is None:
        print(f"modspec predict: {theory.condition.reason}; predicting the exact matrix "
              f"dynamics from a random start of std {start:g} (seed {seed})",
              file=sys.stderr)
    record = gated_prediction(theory, args.lr, args.epochs, start, init_std=start,
                              seed=seed, time=args.time or "discrete")
    payload = record.payload()
    payload["meta"]["time"] = record.time
    if theory.modes is not None:    # the race: mode → winner, half-rise times, solution
        payload["race"] = {k: record.meta[k] for k in ("winner", "half_rise", "mode_solution",
                                                       "why_integrated") if k in record.meta}
    print_payload(payload, args.format)
    return 0


def simulate_network(args: argparse.Namespace) -> int:
    """``modspec simulate --network``: gradient descent of the gated network, batched over
    seeds (NumPy or PyTorch), from a random start or, with ``--start``, the aligned one."""
    from modspec.commands.options import write_json
    from modspec.numerics.gated_predict import aligned_start, gated_theory, stepped_run
    from modspec.numerics.gated_simulate import gated_initial_weights

    network, data = load(args)
    theory = gated_theory(network, data)
    if args.start is not None:
        if theory.modes is None:
            raise ModspecError(f"--start needs the basis condition (an aligned start lies "
                               f"on shared singular vectors): {theory.condition.reason}")
        init = aligned_start(theory, args.start, args.seeds)
    else:
        init = gated_initial_weights(network, args.init_std, args.seeds, args.seed)
    if args.backend == "numpy":
        from modspec.numerics.gated_simulate import gated_simulate

        def step(W: dict, n: int) -> object:
            return gated_simulate(network, data, args.lr, n, init=W, keep_weights=True)
    else:
        from modspec.validation.gated_training import gated_train

        def step(W: dict, n: int) -> object:
            return gated_train(network, data, args.lr, n, init=W, keep_weights=True,
                               device=args.device)
    _, record = stepped_run(theory, step, args.epochs, init)
    write_json(record.payload())
    return 0


def validate_network(args: argparse.Namespace) -> int:
    """``modspec validate --network``: train, judge the race, write ``--out``."""
    import os

    from modspec.validation.defaults import VALIDATE

    network, data = load(args, {"hidden": (None, VALIDATE["hidden"])})
    start = start_of(args, network, required=False)
    lr = args.lr if args.lr is not None else (
        network.training.lr if network.training is not None else None)
    if lr is None:
        raise ModspecError("--network needs --lr or a [training] table with lr in the "
                           "network file")
    backend = "numpy" if args.backend == "auto" and args.device in ("auto", "cpu") else (
        "torch" if args.backend == "auto" else args.backend)
    from modspec.validation import gated_validate as gv

    os.makedirs(args.out, exist_ok=True)
    result = gv.validate_network(network, data, lr=lr, epochs=args.epochs or VALIDATE["epochs"],
                   start=start, init_std=args.init_std, seeds=args.seeds, seed=args.seed,
                   backend=backend, device=args.device, dtype=args.dtype)
    gv.write_gated_outputs(result, args.out, figures=not args.no_figures)
    print(gv.gated_summary(result))
    return 1 if args.strict and not result.passed else 0


def hands_over(command: str) -> Callable[[Callable[[argparse.Namespace], int]],
                                         Callable[[argparse.Namespace], int]]:
    """The ``run`` of ``command`` (predict, simulate or validate), handing over to the gated
    network's with ``--network``; without it, ``--start`` (the aligned start of a gated
    network) is refused in one line before the modular ``run``."""
    def wrap(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(run)
        def call(args: argparse.Namespace) -> int:
            if getattr(args, "network", None) is not None:
                gated = {"predict": predict_network, "simulate": simulate_network,
                         "validate": validate_network}[command]
                return gated(args)
            if getattr(args, "start", None) is not None:
                raise _start_alone(command, args.start)
            return run(args)
        return call
    return wrap


def _start_alone(command: str, start: float) -> ModspecError:
    if command == "simulate":
        return ModspecError("--start is invalid without --network (it is the aligned start "
                            "of a gated network; use --init-std)")
    hint = "; use --a0" if command == "predict" else ""
    return bad("--start", start, f"needs --network (the aligned start of a gated network{hint})")
