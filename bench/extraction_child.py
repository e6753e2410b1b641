"""One extractor in a fresh process, for bench/extraction.py:

    PYTHON bench/extraction_child.py TOOL SPEC.json OUT.csv LAUNCHED

TOOL is ours, etl or cryo; it runs in that tool's own venv, so nothing but the standard
library is imported before the tool itself. LAUNCHED is the parent's time.time() just
before it started this process, so start-up includes the interpreter's own start.
Writes the rows, normalised (block_number, log_index, token, from_address, to_address:
lowercase 0x-hex; value: decimal string) to OUT.csv and the timings to OUT.csv.json
(its peak memory is sampled by the parent, bench/report.py::run_process).
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

COLUMNS = ["block_number", "log_index", "token", "from_address", "to_address", "value"]

# Each tool: setup(spec, out) imports the tool and makes its client (start-up), and returns
# extract() (the timed call over the whole range, both tokens), which returns
# write(), the untimed step that normalises the rows into `out`.


def ours(spec: dict, out: Path) -> Callable:
    import datetime as dt

    import polars as pl

    from assets.ingest.evm.blocks import ClosingBlock
    from assets.ingest.evm.extract import DayOfBlock, transfers
    from core.chains import CHAINS
    from core.resources.evm import EvmRpc

    chain = CHAINS[0]
    rpc = EvmRpc(chain=chain.name, url=spec["url"])
    # only number and date are used: the timestamp and hash are not needed here
    day_of = DayOfBlock(
        [ClosingBlock(dt.date.fromisoformat(d), n, 0, "") for d, n in spec["closing"]]
    )
    assert (day_of.first_block, day_of.last_block) == (spec["first"], spec["last"])
    symbols = {t.symbol: t.address.lower() for t in chain.tokens}
    assert sorted(symbols.values()) == sorted(t.lower() for t in spec["tokens"])

    def extract() -> Callable:
        frame = transfers(rpc, chain, spec["addresses"], day_of)
        return lambda: frame.select(
            "block_number",
            "log_index",
            pl.col("token").replace_strict(symbols),
            pl.col("from_address", "to_address").str.to_lowercase(),
            value=pl.col("value_raw").cast(pl.String),
        ).write_csv(out)

    return extract


def etl(spec: dict, out: Path) -> Callable:
    from ethereumetl.cli import cli

    native = out.with_suffix(".etl.csv")
    # its defaults for batch size (100 blocks per filter) and workers (5): not passed
    args = [
        "export_token_transfers",
        "-s",
        str(spec["first"]),
        "-e",
        str(spec["last"]),
        "-p",
        spec["url"],
        "-o",
        str(native),
    ]
    for token in spec["tokens"]:  # -t may repeat; web3 wants them checksummed
        args += ["-t", token]

    def extract() -> Callable:
        cli.main(args, standalone_mode=False)
        return lambda: _rewrite(
            native,
            out,
            lambda r: [
                r["block_number"],
                r["log_index"],
                r["token_address"].lower(),
                r["from_address"].lower(),
                r["to_address"].lower(),
                r["value"],
            ],
        )

    return extract


def cryo(spec: dict, out: Path) -> Callable:
    import cryo
    import cryo._cryo_rust  # noqa: F401  (the Rust extension; cryo imports it lazily)
    import polars as pl
    import pyarrow  # noqa: F401  (cryo hands its frame to Python through pyarrow)

    options = spec.get("options", {})

    def extract() -> Callable:
        frame = cryo.collect(
            "erc20_transfers",
            blocks=[f"{spec['first']}:{spec['last'] + 1}"],
            rpc=spec["url"],
            contract=[t.lower() for t in spec["tokens"]],
            output_format="polars",
            hex=True,
            no_verbose=True,
            **options,
        )
        return lambda: frame.select(
            pl.col("block_number", "log_index").cast(pl.Int64),
            token=pl.col("erc20"),
            from_address=pl.col("from_address").str.to_lowercase(),
            to_address=pl.col("to_address").str.to_lowercase(),
            value=pl.col("value_string"),
        ).write_csv(out)

    return extract


def _rewrite(source: Path, out: Path, row: Callable[[dict], list]) -> None:
    with open(source, newline="") as f, open(out, "w", newline="") as g:
        writer = csv.writer(g)
        writer.writerow(COLUMNS)
        writer.writerows(row(r) for r in csv.DictReader(f))


PACKAGES = {"ours": None, "etl": "ethereum-etl", "cryo": "cryo"}


def main() -> None:
    tool, spec_path, out, launched = (
        sys.argv[1],
        Path(sys.argv[2]),
        Path(sys.argv[3]),
        float(sys.argv[4]),
    )
    spec = json.loads(spec_path.read_text())
    extract = globals()[tool](spec, out)
    ready = time.time()
    write = extract()
    done = time.time()
    write()
    package = PACKAGES[tool]
    timings = {
        "startup_s": ready - launched,
        "extraction_s": done - ready,
        "version": importlib.metadata.version(package) if package else "",
        "python": sys.version.split()[0],
    }
    Path(f"{out}.json").write_text(json.dumps(timings))
    print(json.dumps(timings), flush=True)


if __name__ == "__main__":
    main()
