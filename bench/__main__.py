"""`make bench`: run every benchmark offline and write bench/RESULTS.md.

    python -m bench                      # all of them, results in bench/RESULTS.md
    python -m bench --only marts reads   # some of them; the others' results stay as they were
    python -m bench --runs 5             # more runs per median
    python -m bench --set densechain.DAYS=14 reads.DAYS=30   # other sizes

Each benchmark starts the local chain or warehouse it needs at the size it needs, so they
run in any order and alone. With --only, the sections of the benchmarks not run are carried
over from the RESULTS.md being replaced, each marked with the date it was measured.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

import yaml

from bench.report import ROOT, Section, earlier, render

BENCHMARKS = (
    "reads",
    "extraction",
    "closing_blocks",
    "backfill",
    "storage",
    "parallel",
    "marts",
    "calibration",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--runs", type=int, default=3, help="runs per median (default 3)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/RESULTS.md")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="MODULE.NAME=N",
        help="change a size constant, e.g. densechain.TRANSFERS=250000",
    )
    args = parser.parse_args(argv)
    for assignment in args.set:
        name, _, value = assignment.partition("=")
        module, _, constant = name.rpartition(".")
        target = importlib.import_module(f"bench.{module}")
        if not isinstance(getattr(target, constant, None), int):
            parser.error(f"--set {assignment}: bench.{module} has no integer {constant}")
        setattr(target, constant, int(value))

    t0 = time.perf_counter()
    failed = []
    # the benchmarks not run keep their last results (read before anything is written)
    kept = earlier(args.out.read_text()) if args.out.exists() else {}
    results = {name: kept[name] for name in BENCHMARKS if name in kept and name not in args.only}
    if results:
        print(f"bench: keeping the last results of {' '.join(results)} from {args.out}")
    before = yaml.safe_load((ROOT / "bench/before.yaml").read_text()) or {}
    for name in args.only:
        print(f"bench: {name} ...", flush=True)
        started = time.perf_counter()
        try:
            section = importlib.import_module(f"bench.{name}").run(runs=args.runs)
        except Exception:  # the others still run; RESULTS.md shows what failed, and how
            failed.append(name)
            section = Section(f"{name}: FAILED", body=f"```\n{traceback.format_exc()}```")
            print(section.body, flush=True)
        section.name = name
        results[name] = section
        for line in section.lines:
            ratio = f" ratio {line.ratio:.1f}x" if line.ratio is not None else ""
            print(
                f"  {line.metric}: {line.ours:.4g} {line.unit}{ratio} "
                f"(target {line.target}: {'met' if line.met else line.met})",
                flush=True,
            )
        print(f"bench: {name} done in {time.perf_counter() - started:.0f} s", flush=True)
        # written after each benchmark, so a later failure keeps what was measured
        sections = [results[n] for n in BENCHMARKS if n in results]
        args.out.write_text(render(sections, before, args.runs, time.perf_counter() - t0))
    print(f"bench: wrote {args.out}" + (f"; FAILED: {' '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
