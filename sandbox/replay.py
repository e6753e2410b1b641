"""Local replay server: the public APIs the pipeline calls, answered from real recordings.

Serves, on 127.0.0.1, the real paths, query parameters and response shapes:

    /defillama/stablecoincharts/all                  (base URL .../defillama)
    /defillama/stablecoincharts/all?stablecoin={1,2}
    /defillama/stablecoincharts/{Chain}?stablecoin={1,2}
    /defillama/stablecoin/{1,2}                      (rows stamped from 2022-05-12, as served)
    /coingecko/api/v3/coins/{id}/market_chart/range  (base URL .../coingecko/api/v3)
    /alternative_me/fng/?limit=N                     (base URL .../alternative_me)
    /fred/graph/fredgraph.csv?id=S&cosd=D&coed=D     (base URL .../fred)

The pipeline reaches it only through its base-URL settings. For tests it also has a control
API under /_sandbox/ (and the same operations as methods): inject faults (429 with
Retry-After, 500, slow answers, truncated JSON, connections cut mid-body, status 200 carrying
the API's error body), count requests per
path, switch the DefiLlama capture to an earlier recording (to replay a revision), and switch
to the other ways real servers behave where they differ or changed over time (BEHAVIOUR), so
the sandbox is never kinder than the real APIs.

Run it alone with `python -m sandbox.replay --port 8765`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

RECORDINGS = Path(__file__).resolve().parent / "recordings"
DEFAULT_CAPTURE = "2026-08-22"
_LLAMA_META = {
    1: {
        "id": "1",
        "name": "Tether",
        "symbol": "USDT",
        "gecko_id": "tether",
        "pegType": "peggedUSD",
        "pegMechanism": "fiat-backed",
    },
    2: {
        "id": "2",
        "name": "USD Coin",
        "symbol": "USDC",
        "gecko_id": "usd-coin",
        "pegType": "peggedUSD",
        "pegMechanism": "fiat-backed",
    },
}
_TOKEN_FILES = {
    1: "stablecoin1_usdt_circulating_daily.csv",
    2: "stablecoin2_usdc_circulating_daily.csv",
}
# DefiLlama's stablecoin server keeps `/stablecoin/{id}` history (tokens[] and every
# chainBalances.<Chain>.tokens[]) only from unix time 1652241600 (2022-05-11 04:00 UTC):
# getStablecoinData filters `balances.filter((item) => item.SK >= 1652241600)` ("currently
# frontend does not use data before May 11, 2022 for individual stablecoins"); the older
# craftProtocolResponse passed the same 1652241600 to getHistoricalValues. Daily records are
# stamped 00:00 UTC, so the first row served is stamped 2022-05-12 (the close of 2022-05-11,
# assets/ingest/DEFILLAMA_TIMING.md). Its chart endpoints keep the full
# history.
LLAMA_HISTORY_CUT = 1652241600
_FNG_FILE = "alternative_me_fng_with_timestamp_2018_2025.csv"
# FRED series -> (recording, date column, value column), as each recording spells them.
_FRED_FILES = {
    "SP500": ("fred_SP500_2016_2026.csv", "as_of", "value"),
    "NASDAQ100": ("fred_NASDAQ100_2015_2026.csv", "as_of", "value"),
    "DTB3": ("fred_DTB3_2006_2026.csv", "observation_date", "DTB3"),
}
# How the replay behaves where real servers differ or changed; configure() switches, clear()
# restores these defaults.
BEHAVIOUR = {
    # CoinGecko /market_chart/range: whether a point at exactly `to` is included (not documented).
    "coingecko_to_inclusive": True,
    # An ISO time: answer as CoinGecko's public host (api.coingecko.com) would at that moment,
    # refusing a request without a pro key whose `from` is more than 365 days earlier.
    "coingecko_public_now": None,
    # How DefiLlama writes a zero balance in chainBalances.<Chain>.tokens[] (ZERO_ENTRIES).
    "llama_zero_entry": "no-circulating",
    # Whether /stablecoin/{id} drops the days before LLAMA_HISTORY_CUT, as every known version
    # of DefiLlama's server does. False serves every recorded day (no real server does).
    "llama_history_cut": True,
    # FRED's fredgraph.csv as downloaded until late 2024: a DATE header, "." for no value.
    "fred_legacy_csv": False,
}
# DefiLlama leaves zero values out: a chain's zero balance (the recordings hold many, e.g. a
# chain before the token reached it) comes without `circulating`, as `circulating: 0` (its
# server's `circulating ?? 0`) or as an empty `circulating`.
ZERO_ENTRIES = {
    "no-circulating": lambda ts: {"date": ts},
    "zero-number": lambda ts: {"date": ts, "circulating": 0},
    "empty-circulating": lambda ts: {"date": ts, "circulating": {}},
}
# CoinGecko's answer to a keyless or demo-key request reaching back too far (HTTP 401), as
# users report it (e.g. github.com/ghostfolio/ghostfolio/issues/5213).
_COINGECKO_HISTORY_REFUSAL = (
    "Your request exceeds the allowed time range. Public API users are limited to querying "
    "historical data within the past 365 days. Upgrade to a paid plan to enjoy full historical "
    "data access: https://www.coingecko.com/en/api/pricing. "
)


def _utc(iso: str) -> dt.datetime:
    """An ISO time, UTC unless it says otherwise."""
    parsed = dt.datetime.fromisoformat(iso)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


# /stablecoin/{id} ends each series with the live hourly record under its own time, not a
# midnight (craftProtocolResponse's replaceLast; the by-chain export's last row, 2023-07-31
# 10:39:59 New York): the replay stamps each series' newest row so, 14:39:59 UTC that day.
LIVE_OFFSET_S = 14 * 3600 + 39 * 60 + 59


def _live(points: list[dict]) -> list[dict]:
    """`points` with the newest one stamped as the live hourly record."""
    if not points:
        return points
    return [*points[:-1], {**points[-1], "date": points[-1]["date"] + LIVE_OFFSET_S}]


def _point(ts: int, value: float, zero_entry: str) -> dict:
    if value == 0:
        return ZERO_ENTRIES[zero_entry](ts)
    return {"date": ts, "circulating": {"peggedUSD": value}}


def _recorded_totals(llama_id: int) -> dict[int, float]:
    """All-chain circulating supply per UTC midnight, as recorded."""
    with open(RECORDINGS / "defillama" / _TOKEN_FILES[llama_id]) as f:
        return {
            _midnight(dt.date.fromisoformat(r["date"])): float(r["supply"])
            for r in csv.DictReader(f)
        }


def _recorded_chains(llama_id: int) -> dict[str, dict[int, float]]:
    """Circulating supply per chain and UTC midnight, as recorded: the Ethereum export for
    both coins, and for USDC every chain of the by-chain recording (which wins where the two
    overlap: full precision, where the export rounds to whole tokens)."""
    folder = RECORDINGS / "defillama"
    chains: dict[str, dict[int, float]] = {}
    symbol = _LLAMA_META[llama_id]["symbol"]
    with open(folder / "ethereum_supply_by_coin_2021_2022.csv") as f:
        for r in csv.DictReader(f):
            if r[symbol]:
                chains.setdefault("Ethereum", {})[int(r["Timestamp"])] = float(r[symbol])
    if llama_id == 2:
        # Rows are UTC midnights printed in New York time; the one intraday row is skipped.
        new_york = ZoneInfo("America/New_York")
        with open(folder / "usdc_circulating_by_chain_2022_2023.csv") as f:
            for r in csv.DictReader(f):
                local = dt.datetime.fromisoformat(r["Date"]).replace(tzinfo=new_york)
                ts = int(local.timestamp())
                if ts % 86400:
                    continue
                for column, value in r.items():
                    if column.endswith("_Circulating") and value != "":
                        chain = column.removesuffix("_Circulating")
                        chains.setdefault(chain, {})[ts] = float(value)
    return {chain: dict(sorted(series.items())) for chain, series in sorted(chains.items())}


def _simulated_chains(llama_id: int) -> dict[str, dict[int, float]]:
    """DefiLlama's view of the SIMULATED sandbox chains where no recording exists: for a
    configured chain without a recorded series of this coin (USDT on Arbitrum), the supply the
    sandbox plants on it (sandbox/chain.py supply_path), per UTC midnight. The close of day D
    is served under the stamp of D+1 00:00, as DefiLlama stamps its first snapshot after
    midnight (assets/ingest/DEFILLAMA_TIMING.md). Without it a backfill before 2022-05-11
    would read an empty chart, which the pipeline rightly refuses; with it the sandbox's
    DefiLlama and its chain describe the same (simulated) world."""
    from core.chains import CONFIGURED
    from sandbox.chain import supply_path

    symbol = _LLAMA_META[llama_id]["symbol"]
    recorded = {name.lower() for name in _recorded_chains(llama_id)}
    series = {}
    for chain in CONFIGURED:
        token = next((t for t in chain.tokens if t.symbol == symbol), None)
        if token is None or chain.defillama_chain.lower() in recorded:
            continue
        unit = 10**token.decimals
        series[chain.defillama_chain] = {
            _midnight(day + dt.timedelta(days=1)): raw / unit
            for day, raw in supply_path(chain)[symbol].items()
        }
    return series


def _served_chains(llama_id: int, simulated: bool) -> dict[str, dict[int, float]]:
    chains = _recorded_chains(llama_id)
    if simulated:
        chains = dict(sorted({**chains, **_simulated_chains(llama_id)}.items()))
    return chains


def build_stablecoin(
    llama_id: int,
    zero_entry: str = BEHAVIOUR["llama_zero_entry"],
    history_from: int | None = None,
    simulated: bool = True,
) -> dict:
    """`/stablecoin/{id}` in DefiLlama's shape, from the flattened recordings.

    `history_from`: drop the days before this unix time, as the real server does from
    LLAMA_HISTORY_CUT (the replay server passes it; None keeps every recorded day, which is
    what sandbox/chain.py plants the chain from). A chain left with no day is left out, as
    the server leaves out a chain whose `tokens` would be empty. `simulated`: add the
    simulated chains' series (`_simulated_chains`); sandbox/chain.py plants from the recorded
    ones only."""
    first = history_from if history_from is not None else -1
    tokens = [
        _point(ts, v, zero_entry) for ts, v in _recorded_totals(llama_id).items() if ts >= first
    ]
    chains = _served_chains(llama_id, simulated)
    balances = {
        chain: [_point(ts, v, zero_entry) for ts, v in series.items() if ts >= first]
        for chain, series in chains.items()
    }
    return {
        **_LLAMA_META[llama_id],
        "chainBalances": {
            chain: {"tokens": _live(points)} for chain, points in balances.items() if points
        },
        "currentChainBalances": {
            chain: {"peggedUSD": series[max(series)]} for chain, series in chains.items()
        },
        "tokens": _live(tokens),
    }


def _json_number(value: float) -> int | float:
    """A whole value as DefiLlama's charts write it (12 rather than 12.0); the value is the same."""
    return int(value) if value.is_integer() else value


def _recorded_prices(llama_id: int) -> dict[int, float]:
    """The coin's USD price per UTC midnight, from the CoinGecko recording (DefiLlama prices
    stablecoins by their gecko_id)."""
    path = RECORDINGS / "coingecko" / f"market_chart_{_LLAMA_META[llama_id]['gecko_id']}.json"
    points = json.loads(path.read_text())["prices"]
    return {int(ms) // 1000: price for ms, price in points if int(ms) % 86_400_000 == 0}


def build_stablecoin_chart(llama_id: int, chain: str = "all") -> list[dict]:
    """`/stablecoincharts/{chain}?stablecoin={id}` in DefiLlama's shape: one row per day, the
    whole recorded history (the chart endpoints have no history cut), `date` a string of unix
    seconds, amounts JSON numbers keyed by peg. `chain` "all" is the stored all-chain chart
    (rows like /stablecoincharts/all: totalCirculating, totalCirculatingUSD); any other chain
    is matched as the server normalises it (case-insensitive; a configured chain without a
    recording gets the simulated series, `_simulated_chains`), and its rows also carry
    totalMintedUSD and totalBridgedToUSD, like the recorded /stablecoincharts/Terra. A chain
    without a recording, or an unknown id, gets [] (the server's answer when it cannot build a
    chart).

    totalCirculatingUSD is the server's formula over recorded inputs: circulating x the coin's
    recorded CoinGecko price at 00:00 UTC that day, 1 where none is recorded (the server's
    fallback price for peggedUSD), to the cent. Minted, unreleased and bridged-to amounts per
    chain are not recorded: totalMintedUSD and totalBridgedToUSD are 0, what the server writes
    for a balance that has none of them."""
    if llama_id not in _LLAMA_META:
        return []
    if chain.lower() == "all":
        series, per_chain = _recorded_totals(llama_id), False
    else:
        chains = {name.lower(): s for name, s in _served_chains(llama_id, True).items()}
        if chain.lower() not in chains:
            return []
        series, per_chain = chains[chain.lower()], True
    prices = _recorded_prices(llama_id)
    rows = []
    for ts, value in series.items():
        usd = round(value * prices.get(ts, 1.0), 2)
        row = {
            "date": str(ts),
            "totalCirculating": {"peggedUSD": _json_number(value)},
            "totalCirculatingUSD": {"peggedUSD": _json_number(usd)},
        }
        if per_chain:
            row["totalMintedUSD"] = {"peggedUSD": 0}
            row["totalBridgedToUSD"] = {"peggedUSD": 0}
        rows.append(row)
    return rows


def build_fear_greed() -> list[dict]:
    """`/fng/` entries in alternative.me's shape (strings, newest first), from the recording."""
    with open(RECORDINGS / "alternative_me" / _FNG_FILE) as f:
        rows = [
            {
                "value": r["fear_greed_index"],
                "value_classification": r["value_classification"],
                "timestamp": r["timestamp"],
            }
            for r in csv.DictReader(f)
        ]
    return sorted(rows, key=lambda r: int(r["timestamp"]), reverse=True)


def build_fred(series: str) -> list[tuple[str, str]]:
    """(observation_date, value) rows of a FRED series: a row for every weekday, as FRED
    serves them, a holiday's value empty. The DTB3 download has them; the SP500 and NASDAQ100
    files list trading days only, so their other weekdays are given FRED's empty row."""
    name, date_column, value_column = _FRED_FILES[series]
    with open(RECORDINGS / "fred" / name) as f:
        recorded = {r[date_column]: r[value_column] for r in csv.DictReader(f)}
    first, last = (dt.date.fromisoformat(d) for d in (min(recorded), max(recorded)))
    days = (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    weekdays = [d.isoformat() for d in days if d.weekday() < 5]
    return [(day, recorded.get(day, "")) for day in weekdays]


# What each API says when it fails, in its own shape, for the "error_200" fault: CoinGecko's
# {"status": {"error_code", "error_message"}} (its documented error body, here the 365-day
# limit of the keyless tier, error 10012), DefiLlama's gateway {"message": ...} (AWS API
# Gateway's shape), alternative.me's metadata.error beside an empty data list, and FRED's
# one-line text error page where a CSV was asked for.
ERROR_BODIES = {
    "/coingecko": (
        b'{"status":{"error_code":10012,"error_message":"Your request exceeds the allowed time '
        b"range. Public API users are limited to querying historical data within the past "
        b'365 days."}}'
    ),
    "/defillama": b'{"message":"Internal server error"}',
    "/alternative_me": (
        b'{"name":"Fear and Greed Index","data":[],"metadata":{"error":"Service unavailable"}}'
    ),
    "/fred": b"Error: the series could not be found or the request was malformed.\n",
}


@dataclass
class Fault:
    path_prefix: str
    # "429" | "500" | "slow" | "truncated" (half the JSON, as a whole answer) |
    # "cut" (the connection drops mid-body: fewer bytes than Content-Length announced) |
    # "error_200" (status 200 carrying the API's own error body, ERROR_BODIES: a CDN or a
    # gateway in front of the API answers so)
    mode: str
    times: int  # how many matching requests it hits; -1 = every one
    retry_after: float | None = None
    delay_s: float = 0.0


class ReplayServer:
    """The replay server, started in a background thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.capture = DEFAULT_CAPTURE
        self.behaviour = dict(BEHAVIOUR)
        self.faults: list[Fault] = []
        self.requests: Counter[str] = Counter()
        # Values of API-key headers received, to check a configured key is really sent.
        self.api_keys: Counter[str] = Counter()
        self._lock = threading.Lock()
        folder = RECORDINGS / "defillama"
        self._charts_all = {
            p.stem.removeprefix("stablecoincharts_all_"): p.read_bytes()
            for p in folder.glob("stablecoincharts_all_*.json")
        }
        self._stablecoin: dict[tuple[int, str, int | None], bytes] = {}  # built when first asked
        self._stablecoin_charts: dict[tuple[int, str], bytes] = {}  # built when first asked
        self._market = {
            p.stem.removeprefix("market_chart_"): json.loads(p.read_text())
            for p in (RECORDINGS / "coingecko").glob("market_chart_*.json")
        }
        self._fear_greed = build_fear_greed()
        self._fred = {series: build_fred(series) for series in _FRED_FILES}
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def inject(
        self,
        path_prefix: str,
        mode: str,
        times: int = 1,
        retry_after: float | None = None,
        delay_s: float = 0.0,
    ) -> None:
        if mode not in {"429", "500", "slow", "truncated", "cut", "error_200"}:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self.faults.append(Fault(path_prefix, mode, times, retry_after, delay_s))

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()
            self.api_keys.clear()
            self.capture = DEFAULT_CAPTURE
            self.behaviour = dict(BEHAVIOUR)

    def configure(self, **behaviour) -> None:
        """Switch to another way real servers behave (keys and meanings: BEHAVIOUR)."""
        unknown = set(behaviour) - set(BEHAVIOUR)
        if unknown:
            raise ValueError(f"unknown behaviour {sorted(unknown)}; have {sorted(BEHAVIOUR)}")
        if behaviour.get("llama_zero_entry", BEHAVIOUR["llama_zero_entry"]) not in ZERO_ENTRIES:
            raise ValueError(f"llama_zero_entry must be one of {sorted(ZERO_ENTRIES)}")
        if not isinstance(behaviour.get("llama_history_cut", True), bool):
            raise ValueError("llama_history_cut must be true or false")
        if behaviour.get("coingecko_public_now") is not None:
            _utc(behaviour["coingecko_public_now"])  # fails now if it is not a time
        with self._lock:
            self.behaviour.update(behaviour)

    def refusal(self, path: str, query: dict[str, list[str]], headers) -> tuple[int, bytes] | None:
        """A real server's refusal of this request, given who asks; None if it would answer."""
        now = self.behaviour["coingecko_public_now"]
        paid = any(name.lower() == "x-cg-pro-api-key" for name in headers.keys())
        if now is None or paid or not path.startswith("/coingecko/"):
            return None
        try:
            if float(query["from"][0]) >= (_utc(now) - dt.timedelta(days=365)).timestamp():
                return None
        except (KeyError, ValueError):
            return None  # the endpoint itself answers a missing or bad `from`
        status = {
            "timestamp": now,
            "error_code": 10012,
            "error_message": _COINGECKO_HISTORY_REFUSAL,
        }
        return 401, json.dumps({"error": {"status": status}}).encode()

    def set_capture(self, capture: str) -> None:
        if capture not in self._charts_all:
            raise ValueError(f"no capture {capture!r}; have {sorted(self._charts_all)}")
        self.capture = capture

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            self.requests[path] += 1
            for fault in self.faults:
                if path.startswith(fault.path_prefix) and fault.times != 0:
                    fault.times -= 1 if fault.times > 0 else 0
                    return fault
        return None

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
        """The recorded API's answer to GET path?query: (status, body)."""
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if parts[:2] == ["defillama", "stablecoincharts"] and len(parts) == 3:
            stablecoin = query.get("stablecoin", [""])[0]
            if parts[2] == "all" and not stablecoin:
                return 200, self._charts_all[self.capture]
            if stablecoin:  # a chain's all-coin chart (no ?stablecoin=) is not recorded
                return 200, self._stablecoin_chart(stablecoin, parts[2])
        if parts[:2] == ["defillama", "stablecoin"] and len(parts) == 3:
            llama_id = int(parts[2]) if parts[2].isdigit() else None
            if llama_id not in _LLAMA_META:
                return 404, b'{"message":"stablecoin not found"}'
            cut = LLAMA_HISTORY_CUT if self.behaviour["llama_history_cut"] else None
            key = (llama_id, self.behaviour["llama_zero_entry"], cut)
            if key not in self._stablecoin:
                self._stablecoin[key] = json.dumps(build_stablecoin(*key)).encode()
            return 200, self._stablecoin[key]
        if (
            len(parts) == 7
            and parts[:4] == ["coingecko", "api", "v3", "coins"]
            and parts[5:] == ["market_chart", "range"]
        ):
            return self._market_chart_range(parts[4], query)
        if parts == ["alternative_me", "fng"]:
            return self._fng(query)
        if parts == ["fred", "graph", "fredgraph.csv"]:
            return self._fredgraph(query)
        return 404, json.dumps({"error": f"not recorded: {path}"}).encode()

    def _stablecoin_chart(self, stablecoin: str, chain: str) -> bytes:
        key = (int(stablecoin) if stablecoin.isdigit() else -1, chain.lower())
        if key not in self._stablecoin_charts:
            self._stablecoin_charts[key] = json.dumps(build_stablecoin_chart(*key)).encode()
        return self._stablecoin_charts[key]

    def _market_chart_range(self, coin: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
        if coin not in self._market:
            return 404, b'{"error":"coin not found"}'
        for name in ("vs_currency", "from", "to"):
            if name not in query:
                return 400, json.dumps({"error": f"Missing parameter {name}"}).encode()
        if query["vs_currency"][0] != "usd":
            return 400, b'{"error":"invalid vs_currency"}'
        try:
            lo, hi = float(query["from"][0]) * 1000, float(query["to"][0]) * 1000
        except ValueError:
            return 400, b'{"error":"invalid from/to"}'
        recorded = self._market[coin]
        if self.behaviour["coingecko_to_inclusive"]:
            sliced = {k: [p for p in points if lo <= p[0] <= hi] for k, points in recorded.items()}
        else:
            sliced = {k: [p for p in points if lo <= p[0] < hi] for k, points in recorded.items()}
        return 200, json.dumps(sliced).encode()

    def _fng(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        try:
            limit = int(query.get("limit", ["1"])[0])
        except ValueError:
            limit = 1  # alternative.me answers a bad limit with the latest value
        data = self._fear_greed if limit <= 0 else self._fear_greed[:limit]
        body = {"name": "Fear and Greed Index", "data": data, "metadata": {"error": None}}
        return 200, json.dumps(body).encode()

    def _fredgraph(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        series = query.get("id", [""])[0]
        if series not in self._fred:
            return 404, b"Series not found"
        lo, hi = query.get("cosd", ["0000"])[0], query.get("coed", ["9999"])[0]
        legacy = self.behaviour["fred_legacy_csv"]
        lines = [f"{'DATE' if legacy else 'observation_date'},{series}"]
        lines += [
            f"{day},{value or ('.' if legacy else '')}"
            for day, value in self._fred[series]
            if lo <= day <= hi
        ]
        return 200, ("\n".join(lines) + "\n").encode()


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test and demo output readable
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None):
            self.send_response(status)
            csv_body = urlsplit(self.path).path.endswith(".csv") and status == 200
            self.send_header("Content-Type", "text/csv" if csv_body else "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/_sandbox/requests":
                return self._send(200, json.dumps(dict(server.requests)).encode())
            for name, value in self.headers.items():
                if name.lower().endswith("api-key"):
                    with server._lock:
                        server.api_keys[value] += 1
            fault = server._take_fault(url.path)
            if fault and fault.mode == "429":
                headers = (
                    {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
                )
                return self._send(
                    429,
                    b'{"status":{"error_code":429,"error_message":'
                    b'"You\'ve exceeded the Rate Limit."}}',
                    headers,
                )
            if fault and fault.mode == "500":
                return self._send(500, b'{"error":"Internal Server Error"}')
            if fault and fault.mode == "error_200":
                source = next(p for p in ERROR_BODIES if url.path.startswith(p))
                return self._send(200, ERROR_BODIES[source])
            if fault and fault.mode == "slow":
                time.sleep(fault.delay_s)
            query = parse_qs(url.query)
            status, body = server.refusal(url.path, query, self.headers) or server.answer(
                url.path, query
            )
            if fault and fault.mode == "truncated":
                body = body[: len(body) // 2]
            if fault and fault.mode == "cut":
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self._send(status, body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            payload = json.loads(self.rfile.read(length) or b"{}")
            try:
                if self.path == "/_sandbox/faults":
                    server.inject(**payload)
                elif self.path == "/_sandbox/capture":
                    server.set_capture(payload["capture"])
                elif self.path == "/_sandbox/configure":
                    server.configure(**payload)
                elif self.path == "/_sandbox/reset":
                    server.clear()
                else:
                    return self._send(404, b'{"error":"unknown control path"}')
            except (TypeError, ValueError, KeyError) as exc:
                return self._send(400, json.dumps({"error": str(exc)}).encode())
            self._send(200, b'{"ok":true}')

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = ReplayServer(args.host, args.port)
    print(f"replay server on {server.url} (Ctrl-C stops it)", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
