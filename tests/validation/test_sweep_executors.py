"""Sweep executors by name: a toy executor defined here, registered with one line, runs a sweep
from Python and from the command line and stores exactly the inline executor's rows; names and
options are refused in one line before any point."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from modspec.theory.errors import ModspecError
from modspec.validation.sweeps.executors import EXECUTORS, ExecutorOptions, implied
from modspec.validation.sweeps.run import sweep
from modspec.validation.sweeps.store import read_rows

GRID = ('[dataset]\nkx = [1, 3]\n[run]\narch = ["dense", "segregated"]\nlr = 0.05\n'
        'epochs = 60\nseeds = 2\ncompute = ["theory", "simulate"]\n')


class Threads:
    """A toy executor, not part of the product: bundles on two threads of this process."""

    workers = 2
    made: list[Threads] = []

    def __init__(self, options: ExecutorOptions) -> None:
        options.local("threads")
        self.bundles, self.closed = 0, 0
        Threads.made.append(self)

    def map(self, task, work):
        self.bundles += len(work)
        with ThreadPoolExecutor(self.workers) as pool:
            yield from pool.map(task, work)

    def close(self) -> None:
        self.closed += 1


def rows(path):
    return {r["key"]: r for r in read_rows(path)}


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(GRID)
    return path


def test_a_toy_executor_registered_with_one_line_stores_the_inline_rows(
        tmp_path, grid_file, monkeypatch, run_cli, capsys):
    monkeypatch.setattr(Threads, "made", [])
    monkeypatch.setitem(EXECUTORS, "threads", Threads)             # the one registry line
    sweep(grid_file, tmp_path / "inline.jsonl", executor="inline")
    result = sweep(grid_file, tmp_path / "threads.jsonl", executor="threads")
    inline = rows(tmp_path / "inline.jsonl")
    assert result.computed == 4 and rows(tmp_path / "threads.jsonl") == inline
    code, _, err = run_cli(capsys, "sweep", str(grid_file), "--out",
                           str(tmp_path / "cli.jsonl"), "--executor", "threads")
    assert code == 0, err
    assert rows(tmp_path / "cli.jsonl") == inline and len(inline) == 4
    assert [(t.bundles > 0, t.closed) for t in Threads.made] == [(True, 1), (True, 1)]


def test_the_options_imply_the_executors_they_always_chose():
    assert implied(ExecutorOptions()) == "pool"
    assert implied(ExecutorOptions(workers=0)) == "inline"
    assert implied(ExecutorOptions(workers=3)) == "pool"
    assert implied(ExecutorOptions(workers=0, scheduler="tcp://127.0.0.1:1")) == "dask"
    assert set(EXECUTORS) >= {"inline", "pool", "dask"}


@pytest.mark.parametrize("argv, names", [
    (["--executor", "nope"], ["--executor", "nope", "inline, pool, dask"]),
    (["--executor", "dask"], ["--executor", "dask", "--scheduler"]),
    (["--executor", "inline", "--workers", "3"], ["--workers", "3", "inline"]),
    (["--executor", "pool", "--workers", "0"], ["--workers", "0", "pool"]),
    (["--executor", "pool", "--scheduler", "tcp://127.0.0.1:1"],
     ["--scheduler", "tcp://127.0.0.1:1", "dask executor"]),
])
def test_a_bad_executor_or_option_is_one_line_before_any_point(tmp_path, grid_file, run_cli,
                                                                capsys, argv, names):
    store = tmp_path / "s.jsonl"
    code, out, err = run_cli(capsys, "sweep", str(grid_file), "--out", str(store), *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert all(name in err for name in names), err
    assert not store.exists()


def test_python_callers_get_the_same_refusals(tmp_path, grid_file):
    with pytest.raises(ModspecError, match="--executor"):
        sweep(grid_file, tmp_path / "s.jsonl", executor="nope")
    with pytest.raises(ModspecError, match="client"):
        sweep(grid_file, tmp_path / "s.jsonl", executor="inline", client=object())
    assert not (tmp_path / "s.jsonl").exists()
