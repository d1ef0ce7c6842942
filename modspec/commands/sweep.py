"""``modspec sweep``: a grid of runs, stored point by point; phase diagrams of the store."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from modspec.commands.options import add_init_options, integer, output_folder

__all__ = ["register", "run", "scheduler_address", "store_file"]

def store_file(text: str) -> str:
    """An argparse type: a file the sweep can append its rows to (checked before any work)."""
    path = Path(text).expanduser()
    if path.is_symlink():
        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid: a symbolic link (a store is never written through one)")
    if not text.strip() or path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is invalid: must be a file path (the store), not a folder")
    output_folder(str(path.parent))
    return text


def figure_file(text: str) -> str:
    """An argparse type: a figure file ending in .png or .pdf in a writable folder."""
    path = Path(text).expanduser()
    if path.suffix.lower() not in (".png", ".pdf"):
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: must end in .png or .pdf")
    output_folder(str(path.parent))
    return text


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address ``tcp://HOST:PORT``."""
    scheme, _, rest = text.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not host or not port.isdigit():  # tls needs certificates: not taken
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: must be tcp://HOST:PORT")
    return text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="run a grid of theory, simulation and training points",
        description="Compute every point of a grid file (TOML tables [dataset] of any family "
                    "and [run], optionally [rule]; a list is swept, the grid is the product; "
                    "docs/tutorials/sweep.md) and "
                    "append one row per finished point to STORE (JSON lines after a header "
                    "line; Python: modspec.load_sweep(STORE)). Points already in STORE are "
                    "skipped, so an interrupted sweep resumes by running the same command. "
                    "STORE must be new, empty or a store of this grid; one sweep at a time "
                    "writes it. With --plot, also draws a phase diagram of the store.")
    p.add_argument("grid", metavar="GRID", help="grid file (TOML)")
    p.add_argument("--out", type=store_file, required=True, metavar="STORE",
                   help="the result store (JSON lines; created, or resumed; never a "
                        "symbolic link or a file that is not a store)")
    p.add_argument("--workers", type=integer(0), default=None,
                   help="local worker processes (default: the CPU count; 0: in this process)")
    p.add_argument("--network", default=None, metavar="FILE.toml",
                   help="a gated network (docs/theory/gated.md): the grid's [dataset] is its "
                        "data (family = gated) and each point's row holds the race's theory "
                        "(also: network = FILE.toml in [run])")
    p.add_argument("--scheduler", type=scheduler_address, default=None, metavar="ADDR",
                   help="a Dask scheduler tcp://HOST:PORT to run the points on "
                        "(pip install 'modspec[dask]'; docs/dask.md)")
    p.add_argument("--executor", default=None, metavar="NAME",
                   help="what runs the points: inline (this process), pool (local "
                        "processes), dask (the cluster of --scheduler), or another registered "
                        "executor (default: dask with --scheduler, inline with --workers 0, "
                        "pool otherwise)")
    add_init_options(p)         # set in the grid's [run] (validation/sweeps/balanced.py)
    p.set_defaults(lam=None, init_scale=None)
    g = p.add_argument_group("phase diagram")
    g.add_argument("--plot", type=figure_file, default=None, metavar="FIGURE",
                   help="draw the store into FIGURE (.png or .pdf) once the sweep is done")
    g.add_argument("--x", default=None, metavar="PARAM",
                   help="parameter on the x axis: a parameter of the grid (nx, kx, rx, arch, "
                        "lr, rule, …, or another family's own: levels, branching, …); "
                        "--x, --y and --value are checked against the grid before any point")
    g.add_argument("--y", default=None, metavar="PARAM",
                   help="parameter on the y axis (a surface; default: curves over --x)")
    g.add_argument("--value", default=None, metavar="OBS",
                   help="observable: a quadrant (Gx->Oy), a mode, loss.<name>, "
                        "half_rise.<mode>, end.<quadrant>, heldout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modspec.validation.sweeps.store import StoreWarning

    with warnings.catch_warnings():        # a store's warnings: one line each on stderr
        warnings.simplefilter("always", StoreWarning)
        warnings.showwarning = _one_line
        return _run(args)


def _one_line(message: Warning | str, category: type[Warning], *_: object) -> None:
    print(f"modspec sweep: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from modspec.theory.errors import bad
    from modspec.validation.sweeps.balanced import with_init
    from modspec.validation.sweeps.executors import factory
    from modspec.validation.sweeps.grid import grid_points, read_grid
    from modspec.validation.sweeps.run import check_plot, plot, sweep
    from modspec.validation.sweeps.store import read_rows

    if args.plot is not None and (args.x is None or args.value is None):
        raise bad("--plot", args.plot, "needs --x and --value")
    if args.y is not None and args.y == args.x:
        raise bad("--y", args.y, "must differ from --x (a surface needs two parameters)")
    if args.plot is None and (args.x or args.y or args.value):
        raise bad("--x/--y/--value", args.x or args.y or args.value, "need --plot FIGURE")
    from modspec.validation.sweeps.gated import gated_sweep, is_gated_grid

    if is_gated_grid(args.grid, args.network):     # a gated network: the race's theory
        if args.plot is not None:
            raise bad("--plot", args.plot, "is not drawn for a gated network (load the store)")
        result = gated_sweep(args.grid, args.out, network=args.network)
        print(f"{result.points} points: {result.computed} computed, {result.skipped} "
              f"already in {args.out}", file=sys.stderr)
        return 0
    if args.executor is not None:
        factory(args.executor)              # a known name, before any point
    grid = args.grid
    if args.init != "random" or args.lam is not None or args.init_scale is not None:
        grid = with_init(read_grid(args.grid), args.init, args.lam, args.init_scale)
    if args.plot is not None:               # the figure's options, before any point
        check_plot(grid_points(read_grid(grid) if isinstance(grid, str) else grid,
                               where=args.grid), args.x, args.value, args.y)
    try:
        result = sweep(grid, args.out, workers=args.workers, scheduler=args.scheduler,
                       executor=args.executor, progress=True)
    except KeyboardInterrupt:
        stored = len(read_rows(args.out))
        held = "1 point is" if stored == 1 else f"{stored} points are"
        print(f"modspec sweep: interrupted; {held} stored in {args.out}. "
              "Run the same command again to compute the rest.", file=sys.stderr)
        return 130
    print(f"{result.points} points: {result.computed} computed, {result.skipped} already "
          f"in {args.out}", file=sys.stderr)
    if args.plot is not None:
        plot(args.out, args.x, args.value, y=args.y, out=args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
