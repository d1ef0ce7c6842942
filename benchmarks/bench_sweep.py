"""Sweep throughput, measured side by side in one run: points per second of the same grid
in this process, on a local pool of two processes and on a two-worker Dask cluster (started
here on 127.0.0.1, torn down after), and the per-task overhead of each executor.

1. a theory sweep (symbolic family derived once, predictor evaluated in batch);
2. a simulation sweep (D0-sized datasets, a few seeds per point, NumPy);
3. per-task overhead: the same executors on empty-cost bundles (one theory point each),
   time per bundle minus the in-process time per bundle.

Every executor starts cold from a fresh store; the derivation cache is warm (one warm-up
sweep first), as it is for any sweep after the first.

    python benchmarks/bench_sweep.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modspec.validation.sweeps.grid import grid_points
from modspec.validation.sweeps.run import run_bundle, sweep


def spaced(m: int) -> list[float]:
    """``m`` identity scales in [0.2, 2] (a range where lr = 0.05 converges)."""
    return [round(0.2 + 1.8 * i / (m - 1), 6) for i in range(m)]


def theory_grid(n: int) -> dict:
    side = max(2, round(n ** (1 / 3)))
    return {"dataset": {"nx": 4, "ny": [1, 2, 3], "kx": list(range(1, side + 1)),
                        "r": spaced(max(2, n // (3 * side)))},
            "run": {"lr": 0.05, "epochs": 200, "compute": ["theory"]}}


def simulation_grid(n: int) -> dict:
    return {"dataset": {"kx": [1, 2, 3, 4], "r": spaced(max(2, n // 4))},
            "run": {"lr": 0.05, "epochs": 200, "seeds": 5, "compute": ["simulate"]}}


def start_cluster(folder: Path) -> tuple[str, list[subprocess.Popen]]:
    dask = str(Path(sys.executable).parent / "dask")
    info = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(info)], **quiet)]
    while not info.exists():
        time.sleep(0.1)
    address = json.loads(info.read_text())["address"]
    for _ in range(2):
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "1",
                                       "--nthreads", "1", "--host", "127.0.0.1",
                                       "--no-dashboard"], **quiet))
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(2, timeout=120)
        client.run(run_bundle, grid_points(theory_grid(2))[:1])    # warm the workers' imports
    return address, procs


def timed(grid: dict, folder: Path, name: str, **kw) -> float:
    store = folder / f"{name}.jsonl"
    store.unlink(missing_ok=True)
    start = time.perf_counter()
    result = sweep(grid, store, **kw)
    elapsed = time.perf_counter() - start
    assert result.computed == result.points
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids")
    args = parser.parse_args()
    n_theory, n_sim = (120, 16) if args.quick else (1000, 200)
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        sweep(theory_grid(8), folder / "warm.jsonl", workers=0)
        sweep(simulation_grid(4), folder / "warm2.jsonl", workers=0)
        address, procs = start_cluster(folder)
        try:
            executors = {"in-process": {"workers": 0}, "local pool (2)": {"workers": 2},
                         "Dask, 2 workers": {"scheduler": address}}
            for label, grid in (("theory", theory_grid(n_theory)),
                                ("simulate", simulation_grid(n_sim))):
                n = len(grid_points(grid))
                print(f"{label} sweep, {n} points")
                for name, kw in executors.items():
                    elapsed = timed(grid, folder, f"{label}-{name}", **kw)
                    print(f"  {name:16s} {n / elapsed:9.1f} points/s  ({elapsed:6.2f} s)")
            one = grid_points(theory_grid(8))[:1]
            start = time.perf_counter()
            for _ in range(20):
                run_bundle(one)
            inline = (time.perf_counter() - start) / 20
            print(f"per-task overhead (one-point theory bundles; in-process {inline * 1e3:.1f} "
                  "ms a bundle)")
            from distributed import Client

            with Client(address) as client:
                client.submit(run_bundle, one, pure=False).result()
                start = time.perf_counter()
                futures = [client.submit(run_bundle, one, pure=False) for _ in range(40)]
                client.gather(futures)
                per = (time.perf_counter() - start) / 40
            print(f"  Dask, 2 workers  {(per - inline / 2) * 1e3:7.1f} ms a task")
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(2) as pool:
                pool.submit(run_bundle, one).result()
                pool.submit(run_bundle, one).result()
                start = time.perf_counter()
                list(pool.map(run_bundle, [one] * 40))
                per = (time.perf_counter() - start) / 40
            print(f"  local pool (2)   {(per - inline / 2) * 1e3:7.1f} ms a task")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
