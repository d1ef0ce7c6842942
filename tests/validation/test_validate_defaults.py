"""``ms.validate`` in Python: the defaults of ``modspec validate`` (one source, shared with
the command line) and its arguments checked up front with one-line errors (issue 23)."""

from __future__ import annotations

import pytest

import modspec as ms
from modspec.cli import build_parser
from modspec.theory.errors import ModspecError
from modspec.validation.defaults import VALIDATE

D0 = ms.CompositionalDataset(nx=3, ny=1, kx=3, ky=1, r=1)
DENSE = ms.architectures.architecture("dense")


def test_the_command_line_defaults_are_those_of_validate():
    args = build_parser().parse_args(["validate", "--out", "somewhere"])
    for name in ("hidden", "init_std", "seeds", "seed", "backend", "device", "dtype"):
        assert getattr(args, name) == VALIDATE[name], name
    # --lr/--epochs stay unset so that --claims keeps its own; their help states VALIDATE's
    helps = {a.dest: a.help for a in build_parser()._subparsers._group_actions[0]
             .choices["validate"]._actions}
    assert f"default {VALIDATE['lr']:g}" in helps["lr"]
    assert f"default {VALIDATE['epochs']}" in helps["epochs"]


def test_validate_without_lr_runs_with_the_command_line_defaults():
    # was: TypeError: train() missing 2 required keyword-only arguments: 'lr' and 'epochs'
    result = ms.validate(D0, DENSE, epochs=30)
    run = result.run
    assert run.lr == VALIDATE["lr"]
    assert run.modes["pi1"].shape == (VALIDATE["seeds"], 31)
    assert run.t[-1] == 30


@pytest.mark.parametrize("arguments, name", [
    ({"network": "dense"}, "network"),
    ({"dataset": [[1.0]]}, "dataset"),
    ({"time": "later"}, "time"),
    ({"learning_rate": 0.01}, "learning_rate"),
    ({"lr": -1.0}, "lr"),
    ({"epochs": 1.5}, "epochs"),
    ({"device": "tpu"}, "device"),
    ({"dtype": "float16"}, "dtype"),
    ({"bias": "yes"}, "bias"),
    ({"threads": 0}, "threads"),
    ({"tolerances": 3}, "tolerances"),
    ({"train_objects": [9]}, "train_objects"),
    ({"nonlinearity": "sigmoid"}, "nonlinearity"),
])
def test_a_wrong_argument_is_one_line_naming_it_before_any_work(arguments, name):
    given = {"dataset": D0, "network": DENSE, "epochs": 5, **arguments}
    with pytest.raises(ModspecError) as err:
        ms.validate(given.pop("dataset"), given.pop("network"), **given)
    message = str(err.value)
    assert message.startswith(f"{name}=") and "\n" not in message
