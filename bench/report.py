"""What every benchmark returns, how it is measured, and how bench/RESULTS.md is written.

A benchmark is a module with `run(config) -> Section`. A Section has summary `Line`s (one
per target: ours, the baseline measured in the same run, the ratio, whether the target is
met) and a free Markdown body with the detailed tables and the notes on method.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Line:
    """One target: `ours` against `baseline` (same unit; lower is better for both)."""

    benchmark: str
    metric: str
    ours: float
    unit: str
    target: str
    met: bool | None  # None: no target, reported only
    baseline: float | None = None
    baseline_name: str = ""
    key: str = ""  # stable name, used by bench/before.yaml to show before/after

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.ours:
            return None
        return self.baseline / self.ours


@dataclass
class Section:
    title: str
    lines: list[Line] = field(default_factory=list)
    body: str = ""


def median_time(work: Callable[[], object], runs: int) -> tuple[float, list[float], object]:
    """(median wall seconds, every run's seconds, the last run's result)."""
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


@dataclass(frozen=True)
class ProcessCost:
    returncode: int
    seconds: float
    peak_rss_mib: float  # the process's own peak resident set (VmHWM)


def memory_kib(field: str, pid: int | str = "self") -> int | None:
    """A memory figure of a process from /proc/<pid>/status (VmRSS: now, VmHWM: its peak),
    or None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines()
                 if line.startswith(f"{field}:")), None)


def run_process(command: list[str], *, env: dict[str, str] | None = None,
                log: Path | None = None, cwd: Path = ROOT) -> ProcessCost:
    """Run a command to the end: its wall time, and its peak memory read from
    /proc/<pid>/status (VmHWM, a high-water mark) until it exits. Not wait4's ru_maxrss:
    Linux carries the parent's peak into a forked child, so a child of a large benchmark
    process would look as large as its parent."""
    out = open(log, "w") if log else subprocess.DEVNULL
    peak = 0
    try:
        t0 = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
        while process.poll() is None:
            peak = max(peak, memory_kib("VmHWM", process.pid) or 0)
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
    finally:
        if log:
            out.close()
    return ProcessCost(process.returncode, seconds, peak / 1024)


def fmt(value: float | None, digits: int = 3) -> str:
    """Numbers for tables: integers as such, others to `digits` significant figures."""
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:,.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"


def table(header: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        return fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _version(package: str, python: Path | None = None) -> str:
    if python is None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"
    if not python.exists():
        return "not installed"
    probe = f"import importlib.metadata as m; print(m.version({package!r}))"
    answer = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return answer.stdout.strip() or "not installed"


def machine() -> list[list[str]]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    mem_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text()
                       .splitlines() if line.startswith("MemTotal")))
    anvil = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
    anvil_version = (subprocess.run([str(anvil), "--version"], capture_output=True, text=True)
                     .stdout.split("\n")[0] if anvil.exists() else "not installed")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return [
        ["date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")],
        ["commit", commit + (" (with uncommitted changes)" if dirty else "")],
        ["CPU", f"{cpu}, {os.cpu_count()} logical cores"],
        ["memory", f"{mem_kib / 2**20:.1f} GiB"],
        ["OS", f"{platform.system()} {platform.release()}"],
        ["python", platform.python_version()],
        *([name, _version(name)] for name in ("dagster", "duckdb", "polars", "web3")),
        ["anvil", anvil_version],
        ["ethereum-etl", _version("ethereum-etl", ROOT / ".bench/etl/bin/python")],
        ["cryo", _version("cryo", ROOT / ".bench/cryo/bin/python")],
    ]


def _verdict(line: Line) -> str:
    return {True: "met", False: "**not met**", None: "-"}[line.met]


def render(sections: list[Section], before: dict[str, dict], runs: int,
           seconds: float) -> str:
    lines = [line for s in sections for line in s.lines]
    out = [
        "# stableflow benchmarks",
        "",
        "Written by `make bench` (bench/__main__.py); do not edit by hand. Every baseline is "
        f"measured in the same run as what it is compared with. Timings are the median of "
        f"{runs} runs unless a section says otherwise. Ratio = baseline / ours (how many "
        "times fewer requests, or how many times faster).",
        "",
        "## Machine",
        "",
        table(["", ""], machine()),
        "",
        f"The whole `python -m bench` took {seconds / 60:.1f} minutes.",
        "",
        "## Summary",
        "",
        table(["benchmark", "metric", "ours", "baseline", "ratio", "target", "verdict"],
              [[l.benchmark, l.metric, f"{fmt(l.ours)} {l.unit}",
                f"{fmt(l.baseline)} {l.unit} ({l.baseline_name})" if l.baseline is not None
                else "-",
                f"{l.ratio:.1f}x" if l.ratio is not None else "-", l.target, _verdict(l)]
               for l in lines]),
        "",
    ]
    for section in sections:
        out += [f"## {section.title}", "", section.body.strip(), ""]
    by_key = {l.key: l for l in lines if l.key}
    rows = [[entry["change"], by_key[key].benchmark + ": " + by_key[key].metric,
             f"{fmt(entry['before'])} {by_key[key].unit} ({entry['commit']})",
             f"{fmt(by_key[key].ours)} {by_key[key].unit}",
             f"{entry['before'] / by_key[key].ours:.1f}x" if by_key[key].ours else "-"]
            for key, entry in before.items() if key in by_key]
    if rows:
        out += ["## Bottlenecks removed: before and after", "",
                "`before` was measured by this benchmark on this machine at the commit named, "
                "before the change (bench/before.yaml); `after` is this run.", "",
                table(["change", "metric", "before", "after", "gain"], rows), ""]
    return "\n".join(out)
