"""Bad inputs at the edges (issues 24 and 25): files that are not files, divergence, options that
would be ignored, the parameter to blame, sizes and shapes that used to hang or trace back.

Each case is one line on stderr naming the parameter and exit status 2, before any work, or a
correct result. Cases that used to hang run in a subprocess with a timeout, so a regression
fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modspec.numerics import budget
from modspec.theory.inputfile import MAX_INPUT_BYTES, InputFileError, read_bounded, read_toml

MEMORY = 16 * 2**30


@pytest.fixture(autouse=True)
def _fixed_memory(monkeypatch):
    monkeypatch.setattr(budget, "available_bytes", lambda: MEMORY)


def assert_one_line_refusal(code, out, err, names):
    assert code == 2, (code, out, err)
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert names in err, err
    assert "Traceback" not in err


def run_process(*argv, timeout=120):
    """``(status, stdout, stderr)`` of ``python -m modspec argv`` (killed after ``timeout``)."""
    proc = subprocess.run([sys.executable, "-m", "modspec", *argv], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": ""})
    return proc.returncode, proc.stdout, proc.stderr


def _grid(tmp_path: Path, text: str) -> str:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return str(path)


GRID_RUN = '[run]\nlr = 0.02\nepochs = 10\ncompute = ["theory"]\n'


# ------------------------------------------------------------ files that are not files
def _not_files(tmp_path: Path) -> dict[str, str]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.toml"
    big.write_text("#" * (MAX_INPUT_BYTES + 1))
    return {"/dev/zero": "/dev/zero", "pipe": str(fifo), "folder": str(tmp_path),
            "over 1 MiB": str(big)}


FILE_KINDS = ("/dev/zero", "pipe", "folder", "over 1 MiB")
WHY = {"/dev/zero": "character device", "pipe": "a pipe", "folder": "a folder",
       "over 1 MiB": "at most 1 MiB"}


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("surface", ["--config", "--dataset", "GRID"])
def test_an_input_that_is_not_a_small_regular_file_is_one_line(surface, kind, tmp_path):
    path = _not_files(tmp_path)[kind]
    store = tmp_path / "store.jsonl"
    argv = {"--config": ("derive", "--config", path),
            "--dataset": ("predict", "--lr", "0.1", "--epochs", "3", "--dataset", path),
            "GRID": ("sweep", path, "--out", str(store))}[surface]
    code, out, err = run_process(*argv, timeout=60)
    assert_one_line_refusal(code, out, err, surface)
    assert WHY[kind] in err
    assert not store.exists()


def test_bounded_reader_reads_small_files_and_refuses_the_rest(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text('family = "compositional"\nnx = 3\n')
    assert read_toml(path) == {"family": "compositional", "nx": 3}
    size = path.stat().st_size                                  # 32 bytes
    assert read_bounded(path, limit=size) == path.read_bytes()
    with pytest.raises(InputFileError, match=f"at most {size - 1} bytes; it has {size} bytes"):
        read_bounded(path, limit=size - 1)
    for text, reason in ((b"\xff\xfe", "not UTF-8"), (b"a = [", "not valid TOML"),
                         (b"a = " + b"[" * 100_000, "TOML")):
        path.write_bytes(text)
        with pytest.raises(InputFileError, match=reason):
            read_toml(path)
