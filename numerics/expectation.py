"""The theory of one recorded run: which solution applies, from which start, to which end.

Given a derivation (dataset and network) and a recorded run (a
:class:`~modspec.numerics.record.Trajectory` of a simulation or a training run: its times,
learning rate, initial weights and training objects), :func:`expect` gives what the theory
predicts for *that* run:

* **decoupled networks trained on every object** — each mode from the run's own effective
  initial strength (:func:`~modspec.numerics.starts.recorded`), in the chosen time:
  ``time="discrete"`` (the default) — gradient descent itself, the exact per-epoch map of
  each mode (docs/theory/dynamics.md), the theory of what was run;
  ``time="continuous"`` — the gradient flow: closed forms (depth ≤ 2) or the inverted
  implicit solution (depth > 2). In discrete time the flow is computed too, and how far it
  runs ahead of gradient descent (``flow_lag``) is reported beside the prediction: at a
  finite learning rate that lag is physics, not an error;
  end point ``W*`` and each mode's fixed point ``s/λ``;
* **coupled networks** (modules sharing an output block) — no mode-wise solution: the exact
  matrix dynamics from the run's own initial weights (matrix gradient descent in discrete
  time, the integrated gradient flow in continuous time); its end is the end point;
* **runs on a subset of objects** — the converged map of that subset
  (:func:`modspec.theory.heldout.heldout`) as end point, with its held-out compositional
  error; the mode trajectories of the full dataset do not describe such a run, so none is
  given (except for coupled networks, whose exact dynamics already uses the subset).

The one start policy (:mod:`modspec.numerics.starts`): a mode's ``a0`` is its effective
initial strength averaged over seeds (:func:`~modspec.numerics.starts.recorded`), floored at
``A0_FLOOR`` for modes of depth ≥ 2 (their sigmoids grow from a positive seed; depth-1
modes take any sign); modes of depth > 2 start each direction from its effective start
(:func:`~modspec.numerics.starts.recorded_directions`). Without a run (a sweep's theory),
the expected value of that start for weights ``N(0, init_std²)``
(:func:`~modspec.numerics.starts.expected`), floored the same way.

Times are epochs of full-batch gradient descent, ``τ = 1/(P·lr)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from modspec.theory.derivation import Derivation
from modspec.theory.errors import bad
from modspec.theory.observables import map_summary

from .record import GROUPS, Trajectory
from .starts import A0_FLOOR, recorded, recorded_directions
from .starts import expected as expected_a0
from .starts import recorded as start_strengths

#: ``A0_FLOOR``, ``expected_a0`` and ``start_strengths`` are :mod:`.starts`'s
#: ``A0_FLOOR``, ``expected`` and ``recorded``, under the names they had here.
__all__ = ["A0_FLOOR", "Expectation", "expect", "expected_a0", "run_rule", "start_strengths"]

TIMES = ("continuous", "discrete")


@dataclass(frozen=True, eq=False)
class Expectation:
    """What the theory predicts for one run (see the module docstring).

    ``trajectory``: the theory at the run's times (no seed axis; an empty record when no
    trajectory applies); ``method``: which solution was used; ``fixed_points`` {mode: a*};
    ``end_point`` {quadrant: ‖W*‖} the expected final quadrant norms; ``systematic`` whether
    ``W*`` is systematic; ``heldout_error`` the theory's held-out compositional error (runs on
    a subset); ``a0`` the starts used; ``flow_lag`` {mode: max_t |a_flow − a_discrete|} in
    discrete time; ``heldout`` the full held-out summary (``Heldout.as_dict()``).
    """

    trajectory: Trajectory
    method: str
    time: str
    fixed_points: dict[str, float] | None = None
    end_point: dict[str, float] | None = None
    systematic: bool | None = None
    heldout_error: float | None = None
    heldout: dict | None = None
    a0: dict[str, float] = field(default_factory=dict)
    flow_lag: dict[str, float] | None = None

    @property
    def full_data(self) -> bool:
        return self.heldout is None


def _subset(th: Derivation, run: Trajectory) -> list[int] | None:
    objects = run.train_objects
    if objects is None or len(objects) == int(th.dataset.P):
        return None
    return [int(j) for j in objects]


def run_rule(run: Trajectory) -> Any:
    """The learning rule a run was made with (from its ``meta``), as a
    :class:`~modspec.theory.rules.Rule`; None when it is a user's rule, which a record does
    not carry (pass it to :func:`expect`)."""
    from modspec.theory.rules import PRESETS, as_rule

    name = run.meta.get("rule", "gradient-descent")
    if name not in PRESETS:
        return None
    return as_rule(name, run.meta.get("gamma"), run.meta.get("nabla"))


def expect(th: Derivation, run: Trajectory, time: str = "discrete",
           linear: bool = True, rule: Any = None) -> Expectation:
    """The theory of ``run`` (a recorded simulation or training of ``th.network`` on
    ``th.dataset``); see the module docstring. ``linear=False`` marks a non-linear network:
    the linear theory is then only a reference, and a coupled one gets no trajectory (the
    exact linear dynamics from its weights would describe another network).

    ``rule`` (a preset name or a :class:`~modspec.theory.rules.Rule`; default: the run's own
    rule, :func:`run_rule`): a rule other than gradient descent is predicted by its own
    derived per-mode system where it reduces (:func:`modspec.numerics.rule_modes.rule_theory`,
    the system of ``th.rule`` when that is the rule's derivation); where it does not, the
    method says ``"not reducible: <why>"`` and no trajectory is given."""
    from modspec.theory.heldout import heldout

    if time not in TIMES:
        raise bad("time", time, "must be 'continuous' or 'discrete'")
    by_rule = _under_any_rule(th, run, time, rule)
    if by_rule is not None:
        return by_rule
    subset = _subset(th, run)
    held = None
    if subset is not None:
        h = heldout(th.dataset, th.network, subset)
        held = h.as_dict() | {"method": h.method}
    if th.coupled:
        return _coupled_expectation(th, run, time, linear, held)
    fixed = {k: float(m.fixed_point) for k, m in th.modes.items()}
    systematic = th.converged.get("systematic")
    if held is not None:
        return Expectation(Trajectory.empty(run.t, time=time), held["method"], time, fixed,
                           held["quadrant_norms"], systematic, held["compositional_error"],
                           held, recorded(th, run))
    return _mode_expectation(th, run, time, fixed)


def _under_any_rule(th: Derivation, run: Trajectory, time: str,
                    rule: Any) -> Expectation | None:
    """The expectation of a run under a rule other than gradient descent (``rule``, else the
    run's own, :func:`run_rule`, or the derivation's rule of that name): its own per-mode
    system, or ``"not reducible"`` for a user's rule :func:`expect` was not given; None for
    gradient descent."""
    if rule is None and run.meta.get("rule", "gradient-descent") != "gradient-descent":
        rule = run_rule(run)
        if rule is None and th.rule is not None and th.rule.rule.name == run.meta["rule"]:
            rule = th.rule.rule
        if rule is None:
            return Expectation(Trajectory.empty(run.t, time=time),
                               f"not reducible: the run's rule {run.meta['rule']!r} is not a "
                               "preset; pass its definition as rule=", time,
                               a0=recorded(th, run))
    if rule is not None:
        from modspec.theory.rules import as_rule

        rule = as_rule(rule)
        if not rule.is_gradient_descent:
            return _under_rule(th, run, time, rule)
    return None


def _coupled_expectation(th: Derivation, run: Trajectory, time: str, linear: bool,
                         held: dict | None) -> Expectation:
    """A coupled network: the exact matrix dynamics from the run's own initial weights (none
    for a non-linear network), ending where they end."""
    t = np.asarray(run.t, dtype=float)
    if not linear or run.init is None:
        trajectory = Trajectory.empty(t, time=time)
        method = "none: no linear theory for a non-linear coupled network"
    else:
        trajectory = _coupled(th, run, time)
        method = ("exact matrix gradient descent from the run's initial weights"
                  if time == "discrete" else
                  "exact matrix gradient flow from the run's initial weights")
    end = ({q: float(v[-1]) for q, v in trajectory.quadrant_norms.items()}
           if trajectory.quadrant_norms else None)
    final = trajectory.final_map
    systematic = (map_summary(th.dataset, np.mean(final, axis=0) if final.ndim == 3 else final)
                  ["systematic"] if final is not None else False)
    return Expectation(trajectory, method, time, None, end, systematic,
                       None if held is None else held["compositional_error"], held,
                       recorded(th, run))


def _mode_expectation(th: Derivation, run: Trajectory, time: str,
                      fixed: dict[str, float]) -> Expectation:
    """A decoupled gradient-descent run on every object: each mode from its effective start
    (deep modes from each direction's), the flow's lag beside discrete time."""
    from .predict import compile as compile_theory

    t = np.asarray(run.t, dtype=float)
    a0 = recorded(th, run)
    # a gradient-descent run: gradient descent's theory, even of a derivation with a rule
    f = compile_theory(th if th.rule is None else replace(th, rule=None))
    starts = recorded_directions(th, run)
    trajectory = _mean_over_directions(f(t, lr=run.lr, a0=starts, time=time))
    lag = None
    if time == "discrete":
        flow = _mean_over_directions(f(t, lr=run.lr, a0=starts, time="continuous"))
        lag = {k: float(np.max(np.abs(flow.modes[k] - trajectory.modes[k])))
               for k in trajectory.modes}
        method = "exact per-epoch map of each mode (gradient descent)"
    else:
        deep = any(md.module.depth > 2 for md in th.modules)
        method = "implicit solution t(a), inverted" if deep else "closed form a(t)"
    if any(np.ndim(v) for v in starts.values()):
        method += ", deep modes from each direction's effective start (free flow)"
        a0 = {k: float(np.mean(v)) for k, v in starts.items()}
    conv = th.converged
    end = ({k: float(v) for k, v in conv["quadrant_norms"].items()}
           if conv.get("quadrant_norms") else None)
    return Expectation(trajectory, method, time, fixed, end, conv.get("systematic"), None,
                       None, a0, lag)


def _mean_over_directions(trajectory: Trajectory) -> Trajectory:
    """A theory computed for a batch of starts
    (:func:`~modspec.numerics.starts.recorded_directions`), averaged over the batch.
    Quadrant norms and losses are the batch means of those of each start (the exact
    observables of a mode whose directions differ lie between these and those of the mean
    strengths; at the end point, where every direction is at its fixed point, they agree)."""
    if not trajectory.modes or np.ndim(next(iter(trajectory.modes.values()))) < 2:
        return trajectory                     # no mode (outputs uncorrelated): nothing to mean
    mean = {g: {k: np.mean(v, axis=0) for k, v in getattr(trajectory, g).items()}
            for g in GROUPS}
    return replace(trajectory, tau=float(np.mean(trajectory.tau)), **mean)


def _under_rule(th: Derivation, run: Trajectory, time: str, rule: Any) -> Expectation:
    """A rule's own derived per-mode dynamics from the run's start, where it reduces."""
    from modspec.theory.rules import check_network

    from .rule_modes import rule_theory

    check_network(rule, th.network, th.dataset)
    a0 = recorded(th, run)
    system = th.rule.system if th.rule is not None and th.rule.rule == rule else None
    result = rule_theory(th.dataset, th.network, run, rule, time, system)
    conv = th.converged
    if result.trajectory is None:
        return Expectation(Trajectory.empty(run.t, time=time), result.method, time, a0=a0)
    traj = result.trajectory
    end = {q: float(v[-1]) for q, v in traj.quadrant_norms.items()}
    return Expectation(traj, result.method, time, result.fixed_points, end,
                       conv.get("systematic"), None, None, a0)


def _coupled(th: Derivation, run: Trajectory, time: str) -> Trajectory:
    """The exact matrix dynamics of a coupled network from the run's own initial weights,
    seed by seed, then averaged over seeds."""
    objects = None if run.train_objects is None else [int(j) for j in run.train_objects]
    t = np.asarray(run.t, dtype=float)
    if time == "discrete":
        from .simulate import simulate

        exact = simulate(th.dataset, th.network, run.lr, int(t[-1]), init=run.init,
                         train_objects=objects).at(t)
    else:
        from .integrate import integrate_flow

        exact = integrate_flow(th.dataset, th.network, t, run.lr, run.init, objects)
    return exact.averaged()
