"""``--dataset FILE.toml``: every command (derive, predict, simulate, validate) takes any family,
a user-declared one included; bad declarations are one line."""

from __future__ import annotations

import json
import re

import pytest

DECLARED = """
family = "declared"
space = {kind = "hypercube", n = 3}
inputs = [{name = "x", kind = "features"},
          {name = "id", kind = "identity", copies = 1, scale = 0.5}]
outputs = [{name = "y", kind = "features", indices = [0]},
           {name = "xor", kind = "parities", subsets = [[0, 1]]}]
"""

HIERARCHICAL = """
family = "hierarchical"
levels = 3
branching = 2
features = 1
r = 1.0
"""

CONTEXTS = """
family = "contexts"
C = 3
r = 1
rc = 2
variants = [{context = 1, sign = -1}]
"""

COMPOSITIONAL = """
family = "compositional"
nx = 3
ny = 1
kx = 3
ky = 1
r = 1
"""


def toml(tmp_path, text, name="ds.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_derive_json_of_a_declared_toml_dataset_has_the_usual_shape(tmp_path, capsys, run_cli):
    code, out, err = run_cli(capsys, "derive", "--dataset", toml(tmp_path, DECLARED),
                             "--format", "json", "--no-cache")
    assert code == 0, err
    payload = json.loads(out)
    modes = payload["modules"][0]["modes"]
    assert {"s", "lambda", "multiplicity", "fixed_point"} <= set(modes[0])
    assert sorted(m["multiplicity"] for m in modes) == [1, 1]
    assert payload["converged"]["quadrant_norms"]["x->xor"] == 0.0


def test_derive_of_a_contexts_toml_has_the_spectrum_of_its_matrices(tmp_path, capsys,
                                                                    run_cli):
    """The contexts family from a file: the modes' singular values with their multiplicities
    are those of numpy's SVD of the file's explicit Σyx (the negated context changes Y, not
    the spectrum); the context × object atoms carry no input, so 5 modes."""
    import numpy as np

    from modspec.theory.families import from_mapping

    code, out, err = run_cli(capsys, "derive", "--dataset", toml(tmp_path, CONTEXTS),
                             "--format", "json", "--no-cache")
    assert code == 0, err
    modes = json.loads(out)["modules"][0]["modes"]
    assert sorted(m["label"] for m in modes) == ["context0", "level0", "level1", "level2",
                                                 "level3"]
    got = np.sort(np.repeat([m["s"] for m in modes], [m["multiplicity"] for m in modes]))
    ds = from_mapping({"family": "contexts", "C": 3, "r": 1, "rc": 2,
                       "variants": [{"context": 1, "sign": -1}]})
    sv = np.linalg.svd(ds.Y @ ds.X.T / ds.P, compute_uv=False)
    np.testing.assert_allclose(got, np.sort(sv[sv > 1e-9]), rtol=0, atol=1e-12)


def test_compositional_toml_derives_what_the_options_derive(tmp_path, capsys, run_cli):
    code, from_file, _ = run_cli(capsys, "derive", "--dataset",
                                 toml(tmp_path, COMPOSITIONAL), "--format", "json")
    code2, from_options, _ = run_cli(capsys, "derive", "--format", "json")
    assert code == code2 == 0
    assert json.loads(from_file)["modules"] == json.loads(from_options)["modules"]


@pytest.mark.parametrize("command", ["predict", "simulate"])
def test_predict_and_simulate_run_a_hierarchical_toml_dataset(tmp_path, capsys, run_cli,
                                                              command):
    code, out, err = run_cli(capsys, command, "--dataset", toml(tmp_path, HIERARCHICAL),
                             "--lr", "0.05", "--epochs", "20")
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload["modes"]) == {"level0", "level1", "level2"}
    assert "items->level2" in payload["quadrant_norms"]


def test_validate_runs_a_declared_toml_dataset(tmp_path, capsys, run_cli):
    code, out, err = run_cli(capsys, "validate", "--dataset", toml(tmp_path, DECLARED),
                             "--epochs", "100", "--out", str(tmp_path / "out"),
                             "--no-figures")
    assert code == 0, err
    assert "checks passed" in out


PARITY = """
family = "parity"
nx = 3
outputs = [[0], [0, 1]]
kx = 1
ky = 1
r = 1
"""


def test_validate_on_a_parity_subset_checks_the_held_out_error_of_every_block(tmp_path, capsys,
                                                                             run_cli):
    """Segregated wiring, objects 3 and 7 held out: the feature generalises (0), the parity
    and the identity outputs are memorised (1.000 each, not 0), as the theory says."""
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "validate", "--dataset", toml(tmp_path, PARITY),
                             "--arch", "segregated", "--train-objects", "0,1,2,4,5,6",
                             "--lr", "0.05", "--epochs", "3000", "--init-std", "1e-3",
                             "--seeds", "2", "--out", str(out_dir), "--no-figures", "--strict")
    assert code == 0, out + err
    for check in ("held-out error:", "held-out error Py:", "held-out error Gy:"):
        assert f"[ok ] {check}" in out, check
    assert ("held-out error per output block: Oy 0.000 (theory 0.000), "
            "Py 1.000 (theory 1.000), Gy 1.000 (theory 1.000)") in out
    result = json.loads((out_dir / "comparison.json").read_text())
    assert result["heldout_theory"]["block_errors"] == {"Oy": 0.0, "Py": 1.0, "Gy": 1.0}
    assert result["heldout_measured"]["Py"] == pytest.approx(1.0, abs=1e-2)
    assert result["verdicts"]["held-out error Py"]["passed"]
    training = json.loads((out_dir / "training.json").read_text())
    assert set(training["heldout"]["blocks"]) == {"Oy", "Py", "Gy"}


def test_validate_on_a_hierarchical_subset_checks_every_level(tmp_path, capsys, run_cli):
    """The input is the items' identity: a held-out item is predicted at no level, error 1
    (its one feature) per level, measured and theory; the held-out figure draws every level
    (the dataset has no Oy block)."""
    code, out, err = run_cli(capsys, "validate", "--dataset", toml(tmp_path, HIERARCHICAL),
                             "--train-objects", "0,1,2", "--lr", "0.1", "--epochs", "1000",
                             "--out", str(tmp_path / "out"), "--strict")
    assert code == 0, out + err
    for g in range(3):
        assert f"[ok ] held-out error level{g}:" in out
    # the measured error of a trained run, printed to 3 decimals: compared with a tolerance
    measured, theory = re.search(r"level0 (\S+) \(theory (\S+)\)", out).groups()
    assert float(theory) == 1.0
    assert float(measured) == pytest.approx(1.0, abs=2e-3)
    assert (tmp_path / "out" / "heldout.png").stat().st_size > 0   # a curve per level


@pytest.mark.parametrize(("text", "words"), [
    (DECLARED.replace('"parities"', '"wavelets"'), "block 'xor' kind"),
    (DECLARED.replace("[[0, 1]]", "[[0, 7]]"), "block 'xor' subset"),
    (DECLARED.replace("copies = 1", "copies = -1"), "block 'id' copies"),
    ('family = "galaxy"\n', "family"),
    (CONTEXTS.replace("C = 3", "C = 1"), "C"),
    (CONTEXTS.replace("context = 1", "context = 3"), "variant context"),
    (CONTEXTS.replace("sign = -1", "objects = [0, 2, 1, 3, 4, 6, 5, 7]"), "do not commute"),
    ("nx = 3\n", "must set family"),
    ("family = [\n", "valid TOML"),
])
def test_bad_declarations_are_one_line_and_status_2(tmp_path, capsys, run_cli, text, words):
    with pytest.raises(SystemExit) as exit_info:
        code, _, err = run_cli(capsys, "derive", "--dataset", toml(tmp_path, text))
        raise SystemExit(code)
    err = capsys.readouterr().err or err
    assert exit_info.value.code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert any(words in line for line in lines)
    assert "Traceback" not in err


def test_segregated_on_a_dataset_without_a_structure_input_is_one_line(tmp_path, capsys,
                                                                        run_cli):
    code, _, err = run_cli(capsys, "derive", "--dataset", toml(tmp_path, HIERARCHICAL),
                           "--arch", "segregated")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "arch" in err
    assert "structure input block" in err


def test_segregated_preset_wires_a_declared_dataset_by_block_roles(tmp_path, capsys, run_cli):
    code, out, err = run_cli(capsys, "derive", "--dataset", toml(tmp_path, DECLARED),
                             "--arch", "segregated", "--format", "json", "--no-cache")
    assert code == 0, err
    payload = json.loads(out)
    assert [(m["inputs"], m["outputs"]) for m in payload["modules"]] == [
        (["x"], ["y"]), (["id"], ["xor"])]
    assert payload["converged"]["quadrant_norms"]["id->y"] == 0.0


def test_derive_train_objects_reports_held_out_error_per_block_of_any_family(tmp_path, capsys,
                                                                            run_cli):
    code, out, err = run_cli(capsys, "derive", "--dataset", toml(tmp_path, DECLARED),
                             "--arch", "segregated", "--train-objects", "0,1,2,4,5,6",
                             "--format", "json", "--no-cache")
    assert code == 0, err
    held = json.loads(out)["heldout"]
    assert held["objects"] == [3, 7]
    # the feature rule generalises; the XOR is memorised: a held-out object's XOR is not known
    assert held["block_errors"] == {"y": 0.0, "xor": 1.0}
    code, out, err = run_cli(capsys, "derive", "--dataset", toml(tmp_path, HIERARCHICAL),
                             "--train-objects", "0,1,2", "--no-cache")
    assert code == 0, err
    assert "level0 1, level1 1, level2 1" in out


@pytest.mark.parametrize("command", ["predict", "simulate"])
def test_predict_and_simulate_run_a_declared_toml_dataset(tmp_path, capsys, run_cli, command):
    code, out, err = run_cli(capsys, command, "--dataset", toml(tmp_path, DECLARED),
                             "--lr", "0.05", "--epochs", "20")
    assert code == 0, err
    payload = json.loads(out)
    assert {"x->y", "id->y", "x->xor", "id->xor"} <= set(payload["quadrant_norms"])
    assert len(payload["modes"]) == 2


def _strict(text):
    def refuse(name):
        raise AssertionError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(("text", "arch", "at"), [
    (HIERARCHICAL, "dense", {"c": 2, "f": 1, "r": 1}),
    (PARITY, "segregated", {"nx": 3, "kx": 1, "ky": 1, "r": 1}),
    (CONTEXTS, "split", {"C": 3, "r": 1, "rc": 2}),
])
def test_symbolic_derive_of_a_named_family_substituted_equals_the_numeric_one(
        tmp_path, capsys, run_cli, text, arch, at):
    import sympy as sp

    path = toml(tmp_path, text)
    code, out, err = run_cli(capsys, "derive", "--symbolic", "--dataset", path, "--arch", arch,
                             "--format", "json", "--no-cache")
    assert code == 0, err
    sym = _strict(out)
    code, out, err = run_cli(capsys, "derive", "--dataset", path, "--arch", arch,
                             "--format", "json", "--no-cache")
    num = _strict(out)
    assert {k for k, v in sym["dataset"].items() if isinstance(v, str)} >= set(at) - {"c", "f"}
    assert sym["validity"]["domain"]

    def values(payload, substitute):
        out = []
        for module in payload["modules"]:
            for m in module["modes"]:
                s, mult = (sp.sympify(m["s"]), sp.sympify(m["multiplicity"])) if substitute \
                    else (m["s"], m["multiplicity"])
                if substitute:
                    s, mult = float(s.subs(at)), int(mult.subs(at))
                if s > 0 and mult > 0:
                    out += [round(float(s), 12)] * int(mult)
        return sorted(out)

    assert values(sym, True) == values(num, False)
    for pair, norm in num["converged"]["quadrant_norms"].items():
        assert float(sp.sympify(sym["converged"]["quadrant_norms"][pair]).subs(at)) == \
            pytest.approx(norm, abs=1e-12)


def test_symbolic_hierarchical_derive_gives_the_spectrum_for_any_number_of_levels(
        tmp_path, capsys, run_cli):
    import sympy as sp

    path = toml(tmp_path, HIERARCHICAL)
    code, out, err = run_cli(capsys, "derive", "--symbolic", "--dataset", path, "--format",
                             "json", "--no-cache")
    assert code == 0, err
    any_depth = _strict(out)["any_depth"]
    root, generic = any_depth["modes"]
    code, out, _ = run_cli(capsys, "derive", "--dataset", path, "--format", "json", "--no-cache")
    numeric = {m["label"]: m for m in _strict(out)["modules"][0]["modes"]}
    at = {"D": 3, "c": 2, "f": 1, "r": 1}
    for g in range(3):
        mode, point = (root, at) if g == 0 else (generic, at | {"g": g})
        assert float(sp.sympify(mode["s"]).subs(point)) == \
            pytest.approx(numeric[f"level{g}"]["s"], rel=1e-12)
        assert int(sp.sympify(mode["multiplicity"]).subs(point)) == \
            numeric[f"level{g}"]["multiplicity"]


@pytest.mark.parametrize("text", [HIERARCHICAL, PARITY, COMPOSITIONAL, CONTEXTS])
def test_symbolic_latex_export_of_every_named_family(tmp_path, capsys, run_cli, text):
    code, out, err = run_cli(capsys, "derive", "--symbolic", "--dataset", toml(tmp_path, text),
                             "--format", "latex", "--no-cache")
    assert code == 0, err
    assert out.count(r"\begin{align*}") == out.count(r"\end{align*}") >= 5
    assert ("Any number of levels" in out) == (text == HIERARCHICAL)
    assert "nan" not in out.lower().replace("nabla", "")


def test_symbolic_derive_of_a_declared_dataset_is_one_line(tmp_path, capsys, run_cli):
    code, _, err = run_cli(capsys, "derive", "--symbolic", "--dataset", toml(tmp_path, DECLARED))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "named family" in err
