"""Learning rules in the PyTorch trainer, and the study's robustness measurement on D0."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from modspec.numerics.simulate import initial_weights, simulate
from modspec.theory import architectures as arch
from modspec.theory.dataset import CompositionalDataset
from modspec.theory.errors import ModspecError
from modspec.theory.rules import PRESETS, as_rule
from modspec.validation.study.rules import D0, rules_study

DATA = CompositionalDataset(**D0)
W_STAR_GX_OY = 2 * math.sqrt(6) / 11    # ‖W*[Gx→Oy]‖ of gradient descent on D0
W_STAR_OX_OY = 8 / 11


@pytest.mark.parametrize("name", list(PRESETS))
def test_float64_torch_training_under_every_rule_matches_numpy_within_1e_8(name):
    pytest.importorskip("torch")
    from modspec.validation.training import train

    lr = 0.005 if name == "contrastive-hebbian" else 0.01
    init = initial_weights(DATA, arch.dense(), hidden=6, init_std=0.1, seeds=2, seed=4)
    kw = dict(lr=lr, epochs=60, init=init, train_objects=[0, 1, 2, 4, 7], record_every=20)
    sim = simulate(DATA, arch.dense(), rule=name, **kw)
    tor = train(DATA, arch.dense(), device="cpu", dtype="float64", rule=name, **kw)
    assert tor.meta["rule"] == name
    for group in ("modes", "quadrant_norms"):
        a, b = getattr(sim, group), getattr(tor, group)
        for k in a:
            assert np.max(np.abs(a[k] - b[k])) < 1e-8, (group, k)
    for ws, wt in zip(sim.weights[0], tor.weights[0], strict=True):
        assert np.max(np.abs(ws - wt)) < 1e-8


def test_numpy_backend_of_train_passes_the_rule_to_the_simulator():
    from modspec.validation.training import train

    kw = dict(lr=0.01, epochs=20, hidden=5, init_std=0.1, seeds=2, seed=1)
    a = train(DATA, arch.dense(), backend="numpy", rule="hebbian", **kw)
    b = simulate(DATA, arch.dense(), rule="hebbian", **kw)
    assert a.meta["nabla"] == 1e-3
    assert np.array_equal(a.weights[0][0], b.weights[0][0])


def test_a_rule_on_a_nonlinear_or_biased_network_is_refused_in_one_line():
    pytest.importorskip("torch")
    from modspec.validation.training import train

    for kw in ({"nonlinearity": "relu"}, {"bias": True}):
        with pytest.raises(ModspecError, match=r"rule.*anti-hebbian.*linear") as e:
            train(DATA, arch.dense(), device="cpu", lr=0.01, epochs=1, hidden=4,
                  rule=as_rule("anti-hebbian"), **kw)
        assert "\n" not in str(e.value)


def test_every_rule_reaches_the_non_systematic_map_of_gradient_descent_on_d0():
    """Small version of the study (2 seeds, full epochs: about a second)."""
    out = {o.rule: o for o in rules_study(seeds=2)}
    assert list(out) == ["gradient-descent", "hebbian", "anti-hebbian", "contrastive-hebbian",
                         "predictive-coding"]
    for name, o in out.items():
        assert o.same_map, name
        assert o.target["Gx->Oy"] == pytest.approx(W_STAR_GX_OY, abs=1e-12)
        slack = 1e-2 if name == "anti-hebbian" else 1e-3    # anti-Hebbian shrinks W1's rows
        assert o.norms_mean["Gx->Oy"] == pytest.approx(W_STAR_GX_OY, abs=slack), name
        assert o.norms_mean["Ox->Oy"] == pytest.approx(W_STAR_OX_OY, abs=2 * slack), name
        assert o.norms_mean["Gx->Oy"] > 0.4    # far from the systematic map's 0
    assert out["gradient-descent"].distance_mean < 5e-3
    # measured: predictive coding's extra term leaves the Gy rows short of W* at 3000 epochs
    pc = out["predictive-coding"]
    assert pc.target["Gx->Gy"] - pc.norms_mean["Gx->Gy"] > 0.05


def test_the_study_refuses_a_rule_it_has_no_setting_for():
    with pytest.raises(ModspecError, match=r"rules.*'oja'"):
        rules_study(seeds=1, rules=("oja",))


# ------------------------------------------------ the learning_rules part of modspec reproduce
#: The rules in the order the fixture asks for them (not the default order: the command
#: line's list reaches the part).
CHOSEN = ["predictive-coding", "hebbian", "anti-hebbian", "contrastive-hebbian"]
RULES = ["gradient-descent", *CHOSEN]


@pytest.fixture(scope="module")
def rules_part(tmp_path_factory):
    """The quick learning_rules part run by ``modspec reproduce`` (3 seeds, the study's lr and
    epochs: a few seconds; the LaTeX of every architecture, not this part's subject, left out)
    and the part as saved."""
    from modspec.cli import main
    from modspec.commands import reproduce
    from modspec.validation.study.report import Part

    out = tmp_path_factory.mktemp("rules-study")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reproduce, "derivation_tex", lambda: "% not this test's subject\n")
        assert main(["reproduce", "--quick", "--quiet", "--parts", "learning_rules", "--rules",
                     *CHOSEN, "--out", str(out)]) == 0
    saved = json.loads((out / "parts" / "learning_rules.json").read_text())
    assert saved["options"] == {"rules": CHOSEN}
    from modspec.validation.provenance import read_provenance

    record = read_provenance(out)         # what the folder was made from
    assert record["command"] == "reproduce" and record["rule"][1:] == CHOSEN
    assert record["dataset"]["D0"]["nx"] == 3 and "dense" in record["network"]
    return out, Part.from_json(saved["part"])


def _claims(part, rule):
    return {c.name.split(": ", 1)[1]: c for c in part.claims if c.name.startswith(rule + ":")}


def test_gradient_descent_in_the_rules_part_ends_at_w_star_and_follows_its_theory(rules_part):
    _, part = rules_part
    gd = part.numbers["gradient-descent"]
    assert gd["end_quadrant_norms_mean"]["Gx->Oy"] == pytest.approx(W_STAR_GX_OY, abs=1e-3)
    assert gd["w_star_quadrant_norms"]["Ox->Oy"] == pytest.approx(W_STAR_OX_OY, abs=1e-12)
    assert gd["distance_to_w_star_mean"] < 5e-3
    claims = _claims(part, "gradient-descent")
    assert all(c.passed for c in claims.values()), claims
    err = max(gd["against"]["gradient-descent theory"]["modes_max_abs"].values())
    assert claims["discrete-time theory follows the mode strengths"].measured == round(err, 4)
    assert err < 0.05


def test_every_verdict_of_the_rules_part_follows_from_its_measured_numbers(rules_part):
    _, part = rules_part
    assert list(part.numbers) == RULES
    for rule in RULES:
        n, claims = part.numbers[rule], _claims(part, rule)
        mean, target = n["end_quadrant_norms_mean"], n["w_star_quadrant_norms"]
        ends = [*mean.values(), *n["end_quadrant_norms_std"].values()]
        assert all(math.isfinite(v) for v in ends)
        for q in ("Gx->Oy", "Ox->Oy"):
            c = claims[f"end-point ‖{q.replace('->', '→')}‖ = W*'s"]
            assert c.passed == (abs(mean[q] - target[q]) <= 0.05 * target[q]), (rule, q)
            assert c.measured.startswith(f"{mean[q]:.4f} ± ")
            assert c.predicted == round(target[q], 4)
        smallest = n["end_quadrant_norms_min"]["Gx->Oy"]
        assert claims["the map is not systematic"].passed == (smallest > 0.01)
        assert n["systematic"] is (smallest <= 0.01)
        assert n["systematicity"]["Gx->Oy"] == pytest.approx(mean["Gx->Oy"], abs=1e-12)
        assert n["seeds"] == 3 and len(n["t"]) == len(n["quadrant_norms_mean"]["Gx->Oy"])
    # measured: the anti-Hebbian end point is within 5 % but short of W* beyond the seeds' spread
    anti = part.numbers["anti-hebbian"]
    short = anti["w_star_quadrant_norms"]["Ox->Oy"] - anti["end_quadrant_norms_mean"]["Ox->Oy"]
    assert short > 5 * anti["end_quadrant_norms_std"]["Ox->Oy"] and short > 1e-3


def test_the_report_says_for_each_rule_whether_it_reaches_the_same_map(rules_part):
    out, part = rules_part
    report = (out / "report.md").read_text()
    assert "## Learning rules beyond gradient descent (D0)" in report
    assert "Learning rules beyond gradient descent" in (out / "report.html").read_text()
    for rule in RULES:
        verdict = ("reaches the same non-systematic map" if all(
            c.passed for c in _claims(part, rule).values()) else "does not reach")
        assert f"{rule} (γ " in part.text and verdict in part.text.split(f"{rule} (γ ")[1]
        assert f"![rules_{rule}.png](rules_{rule}.png)" in report
        assert (out / f"rules_{rule}.pdf").exists()
    results = json.loads((out / "results.json").read_text())
    assert len([c for c in results["claims"] if "end-point" in c["name"]]) == 2 * len(RULES)


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_later_run_of_another_part_keeps_the_rules_part_in_the_report(rules_part, tmp_path,
                                                                       monkeypatch):
    from modspec.validation import study

    out = _copy(rules_part[0], tmp_path / "study")
    monkeypatch.setitem(study.PARTS, "learning_rules", lambda ctx: pytest.fail("recomputed"))
    parts = study.run_study(out, quick=True, quiet=True, parts=["spectrum"])
    assert [p.name for p in parts] == ["spectrum", "learning_rules"]
    report = (out / "report.md").read_text()
    assert "## Spectrum of D0" in report and "## Learning rules beyond gradient descent" in report
    assert set(json.loads((out / "results.json").read_text())["parts"]) == {
        "spectrum", "learning_rules"}


@pytest.mark.parametrize("damage", ["[]", b"\xff\xfe\x00binary", "folder", '{"config_key": 1}'])
def test_a_damaged_rules_part_file_is_recomputed(damage, rules_part, tmp_path, monkeypatch):
    from modspec.validation import study

    out = _copy(rules_part[0], tmp_path / "study")
    path = out / "parts" / "learning_rules.json"
    path.unlink()
    if damage == "folder":
        (path / "inner").mkdir(parents=True)
    elif isinstance(damage, bytes):
        path.write_bytes(damage)
    else:
        path.write_text(damage)
    calls = []
    monkeypatch.setitem(study.PARTS, "learning_rules",
                        lambda ctx: calls.append(ctx.rules) or rules_part[1])
    (part,) = study.run_study(out, quick=True, quiet=True, parts=["learning_rules"],
                              rules=CHOSEN)
    assert calls == [tuple(CHOSEN)]
    assert json.loads(path.read_text())["part"]["name"] == "learning_rules"
    assert part.claims == rules_part[1].claims


def test_choosing_other_rules_recomputes_only_the_rules_part(rules_part, tmp_path,
                                                           monkeypatch):
    from modspec.validation import study

    out = _copy(rules_part[0], tmp_path / "study")
    calls = []
    monkeypatch.setitem(study.PARTS, "learning_rules",
                        lambda ctx: calls.append(ctx.rules) or rules_part[1])
    study.run_study(out, quick=True, quiet=True, parts=["learning_rules"], rules=CHOSEN)
    assert calls == []                                   # same rules: resumed
    study.run_study(out, quick=True, quiet=True, parts=["spectrum"])
    assert calls == []                   # another part: the rules part is reported, not rerun
    study.run_study(out, quick=True, quiet=True, parts=["learning_rules"], rules=["hebbian"])
    assert calls == [("hebbian",)]
    study.run_study(out, quick=True, quiet=True, parts=["learning_rules"])
    assert calls[-1] == ("hebbian", "anti-hebbian", "contrastive-hebbian", "predictive-coding")
    assert json.loads((out / "parts" / "spectrum.json").read_text()).get("options") is None
    with pytest.raises(ModspecError, match=r"rules=\['oja'\]"):
        study.run_study(out, quick=True, quiet=True, parts=["learning_rules"], rules=["oja"])


def test_a_rule_is_drawn_against_gradient_descent_and_its_own_derived_dynamics():
    """Gradient descent's theory is asked for explicitly; a rule that reduces to modes also
    gets its own derived dynamics, one that does not (anti-Hebbian) says why and has no
    trajectory to draw."""
    from modspec.theory.derivation import derive
    from modspec.validation.study.rules import GD_THEORY, rule_run, theories

    th = derive(DATA, arch.dense())
    run = rule_run("hebbian", seeds=1, epoch_scale=0.02, record_every=10)
    curves = dict(theories(th, run, PRESETS["hebbian"]))
    assert list(curves) == [GD_THEORY, "hebbian derived"]
    assert "gradient descent" in curves[GD_THEORY].method
    assert curves["hebbian derived"].trajectory.modes
    assert [label for label, _ in theories(th, run, PRESETS["gradient-descent"])] == [GD_THEORY]
    anti = dict(theories(th, rule_run("anti-hebbian", seeds=1, epoch_scale=0.02,
                                      record_every=10), PRESETS["anti-hebbian"]))
    own = anti.get("anti-hebbian derived")
    assert own is None or (own.method.startswith("not reducible") and not own.trajectory.modes)


def test_the_theories_figure_takes_any_list_of_labelled_theories(tmp_path):
    from modspec.numerics.expectation import expect
    from modspec.theory.derivation import derive
    from modspec.validation.figures import theories_figure
    from modspec.validation.study.rules import rule_run

    th = derive(DATA, arch.dense())
    run = rule_run("gradient-descent", seeds=2, epoch_scale=0.1, record_every=5)
    theory = expect(th, run).trajectory
    path = theories_figure([("a", theory), ("b", theory)], run, str(tmp_path / "f.png"),
                           targets={"Gx->Oy": W_STAR_GX_OY}, title="gd")
    assert (tmp_path / "f.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="at most 3"):
        theories_figure([("t", theory)] * 4, run, path)


@pytest.mark.parametrize("argv, words", [
    (["--rules", "oja"], ["--rules", "'oja'"]),
    (["--parts", "spectrum", "--rules", "hebbian"], ["--rules", "learning_rules"]),
])
def test_bad_rules_for_reproduce_are_one_line_before_any_work(argv, words, tmp_path, capsys):
    from modspec.cli import main

    out = tmp_path / "report"
    assert main(["reproduce", "--out", str(out), "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(w in err for w in words), err
    assert not out.exists()
