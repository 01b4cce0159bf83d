"""The ``fastnn`` command: ``fastnn reproduce``, ``fastnn warmup``, ``fastnn bench``."""

import argparse
import sys
import time

__all__ = ["main"]


def _reproduce(args):
    from . import kernels
    from .reproduce import NOTEBOOKS, format_table, run

    names = list(NOTEBOOKS) if "all" in args.notebooks else args.notebooks
    backend = args.backend
    if backend is None:
        from ._backend import get_backend

        backend = get_backend()
    kernels.get(backend)      # a clear error now rather than mid-run
    # a terminal gets the progress bar, a log (with --verbose) plain lines, else nothing
    stream = sys.stderr if (sys.stderr.isatty() or args.verbose) else None
    print(f"fastnn reproduce: {', '.join(names)} on backend {backend!r}"
          + (" (QUICK: a tenth of the iterations, numbers differ from the notebooks)"
             if args.quick else ""))
    t0 = time.perf_counter()
    sections = run(names, out=args.out, backend=backend, quick=args.quick,
                   data=args.data or (), baseline=not args.no_baseline, stream=stream,
                   blas_threads=args.blas_threads or None)
    for s in sections:
        print(f"\n## {s.title}\n")
        if s.rows:
            print(format_table(s, backend))
        for note in s.notes:
            print(f"- {note}")
    print(f"\nFigures and report.md written to {args.out}/ "
          f"(total {time.perf_counter() - t0:.1f} s)")
    return 0


def _warmup(args):
    from . import warmup

    seconds = warmup(args.backend)
    print(f"compiled the {args.backend or 'default'} backend's kernels in {seconds:.1f} s")
    return 0


def _bench(args):
    from .bench import main as bench_main

    return bench_main(args)


def build_parser():
    """The argument parser of the ``fastnn`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    from .reproduce import NOTEBOOKS

    parser = argparse.ArgumentParser(
        prog="fastnn", description="The course notebooks' network API, compiled.")
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("reproduce", help="re-run the notebooks' experiments with "
                         "timings and plots")
    rep.add_argument("notebooks", nargs="+", choices=[*NOTEBOOKS, "all"],
                     metavar="NOTEBOOK", help=f"one or more of {', '.join(NOTEBOOKS)}, "
                     "or all")
    rep.add_argument("--out", default="results", help="output folder (default results/)")
    rep.add_argument("--backend", choices=["numpy", "numba", "cuda"], default=None,
                     help="backend to time (default: the current one)")
    rep.add_argument("--data", action="append", metavar="PATH",
                     help="folder (or file) with data.mat and the cat .h5 files; "
                     "may be repeated")
    rep.add_argument("--quick", action="store_true",
                     help="a tenth of the iterations (under a minute)")
    rep.add_argument("--no-baseline", action="store_true",
                     help="do not time the NumPy baseline")
    rep.add_argument("--blas-threads", type=int, default=1, metavar="N",
                     help="BLAS threads for both backends (default 1; 0 = BLAS default)")
    rep.add_argument("-v", "--verbose", action="store_true",
                     help="when stderr is not a terminal, one plain progress line per "
                     "experiment (on a terminal a progress bar is always shown)")
    rep.set_defaults(func=_reproduce)

    warm = sub.add_parser("warmup", help="compile the kernels ahead of time")
    warm.add_argument("--backend", default=None)
    warm.set_defaults(func=_warmup)

    try:
        from .bench import add_arguments
    except ImportError:
        add_arguments = None
    if add_arguments is not None:
        bench = sub.add_parser("bench", help="NumPy vs compiled kernels, side by side")
        add_arguments(bench)
        bench.set_defaults(func=_bench)
    return parser


def main(argv=None):
    """Entry point of the ``fastnn`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError, FileNotFoundError) as exc:
        print(f"fastnn: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
