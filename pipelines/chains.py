"""The EVM chains and tokens the pipeline follows, from `chains.yaml`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from eth_utils import keccak, to_checksum_address

CHAINS_FILE = Path(__file__).with_name("chains.yaml")
STANDARDS = ("tether", "fiattoken")


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


TRANSFER = topic("Transfer(address,address,uint256)")
ISSUANCE_EVENTS = {
    "tether": {
        topic("Issue(uint256)"): "Issue",
        topic("Redeem(uint256)"): "Redeem",
        topic("DestroyedBlackFunds(address,uint256)"): "DestroyedBlackFunds",
    },
    "fiattoken": {
        topic("Mint(address,address,uint256)"): "Mint",
        topic("Burn(address,uint256)"): "Burn",
    },
}
MINTS = {"Issue", "Mint"}  # every other issuance event removes supply


@dataclass(frozen=True)
class Token:
    symbol: str
    address: str
    decimals: int
    standard: str


@dataclass(frozen=True)
class Chain:
    name: str
    rpc_url_env: str
    confirmations: int
    tokens: tuple[Token, ...]

    @property
    def resource_key(self) -> str:
        return f"rpc_{self.name}"


class ConfigError(ValueError):
    """chains.yaml holds something the pipeline cannot use; the message names the entry."""


_CHAIN_KEYS = {"rpc_url_env", "confirmations", "tokens"}
_TOKEN_KEYS = {"address", "decimals", "standard"}
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SYMBOL = re.compile(r"[A-Z][A-Z0-9]*")
_ENV = re.compile(r"[A-Z][A-Z0-9_]*")


def _require(ok: bool, path: Path, field: str, value: object, reason: str) -> None:
    if not ok:
        raise ConfigError(f"{path}: {field} = {value!r}: {reason}")


def _keys(spec: object, expected: set[str], path: Path, field: str) -> dict:
    _require(isinstance(spec, dict), path, field, spec, "not a mapping")
    _require(set(spec) == expected, path, field, sorted(spec),
             f"expected exactly the keys {sorted(expected)}")
    return spec


def load_chains(path: Path = CHAINS_FILE) -> tuple[Chain, ...]:
    """Every chain and token of `path`, validated: a typo fails here, naming the entry,
    not later as a KeyError or a silently unread token."""
    raw = yaml.safe_load(path.read_text())
    _require(isinstance(raw, dict) and raw, path, "(file)", raw, "no chains configured")
    chains = []
    for name, spec in raw.items():
        _require(isinstance(name, str) and bool(_NAME.fullmatch(name)), path, "chain", name,
                 "chain names are lower-case identifiers (they name resources and table rows)")
        spec = _keys(spec, _CHAIN_KEYS, path, name)
        env = spec["rpc_url_env"]
        _require(isinstance(env, str) and bool(_ENV.fullmatch(env)), path, f"{name}.rpc_url_env",
                 env, "not an environment variable name")
        confirmations = spec["confirmations"]
        _require(isinstance(confirmations, int) and not isinstance(confirmations, bool)
                 and 0 < confirmations <= 10_000, path, f"{name}.confirmations", confirmations,
                 "not a whole number of blocks in 1..10000")
        _require(isinstance(spec["tokens"], dict) and spec["tokens"], path, f"{name}.tokens",
                 spec["tokens"], "no tokens configured")
        tokens, addresses = [], set()
        for symbol, token in spec["tokens"].items():
            field = f"{name}.tokens.{symbol}"
            _require(isinstance(symbol, str) and bool(_SYMBOL.fullmatch(symbol)), path, field,
                     symbol, "token symbols are upper case")
            token = _keys(token, _TOKEN_KEYS, path, field)
            _require(token["standard"] in STANDARDS, path, f"{field}.standard",
                     token["standard"], f"not one of {STANDARDS}")
            address = token["address"]
            try:
                checksummed = to_checksum_address(address)
            except (TypeError, ValueError):
                checksummed = None
            _require(checksummed == address, path, f"{field}.address", address,
                     "not a checksummed 20-byte address")
            _require(address not in addresses, path, f"{field}.address", address,
                     "the same contract is configured twice")
            addresses.add(address)
            decimals = token["decimals"]
            _require(isinstance(decimals, int) and not isinstance(decimals, bool)
                     and 0 <= decimals <= 36, path, f"{field}.decimals", decimals,
                     "not a whole number in 0..36")
            tokens.append(Token(symbol, address, decimals, token["standard"]))
        chains.append(Chain(name, env, confirmations, tuple(tokens)))
    return tuple(chains)


CHAINS = load_chains()
