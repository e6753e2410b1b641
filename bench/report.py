"""What every benchmark returns, how it is measured, and how bench/RESULTS.md is written.

A benchmark is a module with `run(runs) -> Section` in three parts: prepare what it
measures (a chain, a warehouse, the sandbox), measure (the timed part, returning a plain
record of what it found) and report (that record as a Section). A Section has summary
`Line`s (one per target: ours, the baseline measured in the same run, the ratio, whether the
target is met) and a free Markdown body with the detailed tables and the notes on method.

`python -m bench --only NAME...` re-measures some benchmarks; the others' results are carried
over from the RESULTS.md it replaces (`earlier`), with the date they were measured. Each
section starts with an invisible marker naming its benchmark and that date, and the Summary
with one giving each benchmark's number of rows, so a later run can tell them apart.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
    name: str = ""  # the benchmark (module) it comes from; set by bench/__main__.py
    # Set only for a section carried over from an earlier RESULTS.md, not re-run: when it
    # was measured, and its Summary and before/after rows as they were written then.
    measured: str = ""
    summary_rows: list[str] = field(default_factory=list)
    gain_rows: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Measured:
    """One side of a comparison through a counting proxy: median seconds, HTTP requests per
    run."""

    seconds: float
    requests: int


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
    return next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")), None
    )


def run_process(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    cwd: Path = ROOT,
) -> ProcessCost:
    """Run a command to the end: its wall time, and its peak memory read from
    /proc/<pid>/status (VmHWM, a high-water mark) until it exits. Not wait4's ru_maxrss:
    Linux carries the parent's peak into a forked child, so a child of a large benchmark
    process would look as large as its parent."""
    out = open(log, "w") if log else subprocess.DEVNULL
    peak = 0
    try:
        t0 = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        while process.poll() is None:
            peak = max(peak, memory_kib("VmHWM", process.pid) or 0)
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
    finally:
        if log:
            out.close()
    return ProcessCost(process.returncode, seconds, peak / 1024)


class OtherWork:
    """How busy other processes kept the machine while a benchmark ran (with OtherWork() as
    w: ...; w.cores): the machine's busy CPU time (/proc/stat) minus this process's and its
    descendants' (os.times for those waited for, /proc/<pid>/stat for those alive), per
    second of wall time. Other work (a test suite, say) makes timings noisy; request counts
    are not affected."""

    def __enter__(self) -> OtherWork:
        self._start, self._t0 = self._sample(), time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        self._end, self._t1 = self._sample(), time.monotonic()

    @property
    def cores(self) -> float:
        (busy0, ours0), (busy1, ours1) = self._start, self._end
        return max(0.0, (busy1 - busy0 - (ours1 - ours0)) / max(self._t1 - self._t0, 1e-9))

    def note(self) -> str:
        text = (
            f"Other processes kept {self.cores:.1f} of the machine's {os.cpu_count()} cores "
            f"busy on average while this benchmark ran"
        )
        return text + (
            ": **timings are noisier than on an idle machine** (request counts are not affected)."
            if self.cores >= 0.2
            else "."
        )

    @staticmethod
    def _sample() -> tuple[float, float]:
        tick = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq = map(
            int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
        )
        busy = (user + nice + system + irq + softirq) / tick
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                # after the name: state ppid ... utime(14) stime cutime cstime (man 5 proc)
                stats[int(entry.name)] = (int(fields[1]), sum(map(int, fields[11:15])) / tick)
        tree, grew = {os.getpid()}, True
        while grew:
            found = {pid for pid, (ppid, _) in stats.items() if ppid in tree} - tree
            tree, grew = tree | found, bool(found)
        ours = sum(os.times()[:4]) + sum(stats[pid][1] for pid in tree - {os.getpid()})
        return busy, ours


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
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = int(
        next(
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    )
    anvil = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
    anvil_version = (
        subprocess.run([str(anvil), "--version"], capture_output=True, text=True).stdout.split(
            "\n"
        )[0]
        if anvil.exists()
        else "not installed"
    )
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
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


_SECTION_MARK = re.compile(r"^<!-- bench: (\S+) measured (.+?) -->$")
_SUMMARY_MARK = re.compile(r"^<!-- summary rows: (.*?) -->$")
_NOT_RERUN = "*Not re-run by the last `python -m bench`"


def measured_now() -> str:
    """When and at which commit this run measures: what a carried-over section shows."""
    facts = dict(machine()[:2])
    return f"{facts['date (UTC)']} UTC at commit {facts['commit']}"


def _table_rows(chunk: list[str]) -> list[str]:
    rows = [line for line in chunk if line.startswith("|")]
    return rows[2:]  # without the header and the |---| line


def earlier(text: str) -> dict[str, Section]:
    """The benchmark sections of an earlier RESULTS.md, by benchmark name, as carried-over
    Sections (title, body, date measured, Summary and before/after rows). Sections written
    without a marker (by a bench/ older than the markers) are not carried."""
    chunks: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:]
            chunks[current] = []
        elif current is not None:
            chunks[current].append(line)
    out: dict[str, Section] = {}
    for title, chunk in chunks.items():
        at = next((i for i, line in enumerate(chunk) if line.strip()), 0)
        if chunk and (mark := _SECTION_MARK.match(chunk[at])):
            name, measured = mark.groups()
            body = [line for line in chunk[at + 1 :] if not line.startswith(_NOT_RERUN)]
            out[name] = Section(title, body="\n".join(body).strip(), name=name, measured=measured)
    summary = chunks.get("Summary", [])
    counts = next((m.group(1) for line in summary if (m := _SUMMARY_MARK.match(line))), "")
    rows = iter(_table_rows(summary))
    for entry in counts.split():
        name, _, n = entry.partition("=")
        taken = [next(rows) for _ in range(int(n))]
        if name in out:
            out[name].summary_rows = taken
    for row in _table_rows(chunks.get("Bottlenecks removed: before and after", [])):
        metric = row.split("|")[2].strip()
        for section in out.values():
            names = {r.split("|")[1].strip() for r in section.summary_rows}
            if any(metric.startswith(f"{n}: ") for n in names):
                section.gain_rows.append(row)
    return out


def render(sections: list[Section], before: dict[str, dict], runs: int, seconds: float) -> str:
    """RESULTS.md from this run's sections and any carried over from an earlier one."""
    lines = [line for s in sections for line in s.lines]
    fresh = [s.name for s in sections if not s.measured and s.name]
    carried = [s for s in sections if s.measured]
    summary = [
        [
            "| "
            + " | ".join(
                [
                    line.benchmark,
                    line.metric,
                    f"{fmt(line.ours)} {line.unit}",
                    f"{fmt(line.baseline)} {line.unit} ({line.baseline_name})"
                    if line.baseline is not None
                    else "-",
                    f"{line.ratio:.1f}x" if line.ratio is not None else "-",
                    line.target,
                    _verdict(line),
                ]
            )
            + " |"
            for line in s.lines
        ]
        if not s.measured
        else s.summary_rows
        for s in sections
    ]
    took = f"The whole `python -m bench` took {seconds / 60:.1f} minutes."
    if carried:
        took = (
            f"This `python -m bench --only {' '.join(fresh)}` took {seconds / 60:.1f} "
            f"minutes. The other sections were not re-run: they are carried over from "
            f"the earlier RESULTS.md, each with the date it was measured."
        )
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
        took,
        "",
        "## Summary",
        "",
        "<!-- summary rows: "
        + " ".join(f"{s.name or '-'}={len(rows)}" for s, rows in zip(sections, summary))
        + " -->",
        table(["benchmark", "metric", "ours", "baseline", "ratio", "target", "verdict"], []),
        *(row for rows in summary for row in rows),
        "",
    ]
    if carried:
        out += [
            "Rows of "
            + ", ".join(f"{s.name} ({s.measured.split(' at ')[0]})" for s in carried)
            + " are from those earlier runs.",
            "",
        ]
    now = measured_now()
    for section in sections:
        out += [f"## {section.title}", ""]
        if section.name:
            out += [f"<!-- bench: {section.name} measured {section.measured or now} -->", ""]
        if section.measured:
            out += [f"{_NOT_RERUN}: these results were measured {section.measured}.*", ""]
        out += [section.body.strip(), ""]
    by_key = {line.key: line for line in lines if line.key}
    rows = [
        [
            entry["change"],
            by_key[key].benchmark + ": " + by_key[key].metric,
            f"{fmt(entry['before'])} {by_key[key].unit} ({entry['commit']})",
            f"{fmt(by_key[key].ours)} {by_key[key].unit}",
            f"{entry['before'] / by_key[key].ours:.1f}x" if by_key[key].ours else "-",
        ]
        for key, entry in before.items()
        if key in by_key
    ]
    gains = [row for s in carried for row in s.gain_rows]
    if rows or gains:
        out += [
            "## Bottlenecks removed: before and after",
            "",
            "`before` was measured by this benchmark on this machine at the commit named, "
            "before the change (bench/before.yaml); `after` is this run"
            + (", or the earlier run a carried-over section names" if gains else "")
            + ".",
            "",
            table(["change", "metric", "before", "after", "gain"], rows),
            *gains,
            "",
        ]
    return "\n".join(out)
