"""The EVM chains and tokens the pipeline follows, from `chains.yaml`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from eth_utils import keccak, to_checksum_address

CHAINS_FILE = Path(__file__).with_name("chains.yaml")
STANDARDS = ("tether", "fiattoken", "erc20")


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
# erc20: no issuance event of its own; a mint is a Transfer from 0x0 and a burn a Transfer to
# 0x0 (EIP-20: "a token contract which creates new tokens SHOULD trigger a Transfer event
# with the _from address set to 0x0"; OpenZeppelin ERC20 _mint/_burn do so). Bridged tokens
# (Arbitrum's USDT0, OP-stack OptimismMintableERC20) mint and burn this way.
ZERO_TOPIC = "0x" + "0" * 64


@dataclass(frozen=True)
class Token:
    symbol: str
    address: str
    decimals: int
    standard: str
    # Minted by a bridge against tokens locked on another chain, not by the issuer: its mints
    # and burns move supply between chains and are not issuance (marts leave them out).
    bridged: bool = False
    # Deployed after the chain's anchor block: an older block may hold no code at its address,
    # which the state reads then take as no supply and no balances. Any other token answering
    # nothing is a node without that block's state, never a zero (extract.py).
    deployed_after_anchor: bool = False


@dataclass(frozen=True)
class Anchor:
    """A block known to be on the chain: where the closing-block search starts."""

    number: int
    timestamp: int


@dataclass(frozen=True)
class Chain:
    name: str
    rpc_url_env: str
    chain_id: int
    anchor: Anchor
    confirmations: int
    tokens: tuple[Token, ...]
    max_topic_values: int = 500
    # The chain's name at DefiLlama (chainBalances keys, /stablecoincharts/{Chain}); "" = the
    # chain name title-cased (ethereum -> Ethereum).
    defillama_chain: str = ""

    def __post_init__(self) -> None:
        if not self.defillama_chain:
            object.__setattr__(self, "defillama_chain", self.name.title())

    @property
    def resource_key(self) -> str:
        return f"rpc_{self.name}"


class ConfigError(ValueError):
    """chains.yaml holds something the pipeline cannot use; the message names the entry."""


_CHAIN_KEYS = {"rpc_url_env", "chain_id", "anchor", "confirmations", "tokens"}
_OPTIONAL_CHAIN_KEYS = {"max_topic_values", "defillama_chain"}
_TOKEN_KEYS = {"address", "decimals", "standard"}
_OPTIONAL_TOKEN_KEYS = {"bridged", "deployed_after_anchor"}
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SYMBOL = re.compile(r"[A-Z][A-Z0-9]*")
_ENV = re.compile(r"[A-Z][A-Z0-9_]*")
# DefiLlama chain names as it writes them: Ethereum, BSC, zkSync Era, Polygon zkEVM, ...
_LLAMA_CHAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]*[A-Za-z0-9])?")


def _require(ok: bool, path: Path, field: str, value: object, reason: str) -> None:
    if not ok:
        raise ConfigError(f"{path}: {field} = {value!r}: {reason}")


def _keys(
    spec: object, expected: set[str], path: Path, field: str, optional: set[str] = frozenset()
) -> dict:
    _require(isinstance(spec, dict), path, field, spec, "not a mapping")
    _require(
        expected <= set(spec) <= expected | optional,
        path,
        field,
        sorted(spec),
        f"expected the keys {sorted(expected)}"
        + (f" and optionally {sorted(optional)}" if optional else ""),
    )
    return spec


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def load_chains(path: Path = CHAINS_FILE) -> tuple[Chain, ...]:
    """Every chain and token of `path`, validated: a typo fails here, naming the entry,
    not later as a KeyError or a silently unread token."""
    raw = yaml.safe_load(path.read_text())
    _require(isinstance(raw, dict) and raw, path, "(file)", raw, "no chains configured")
    chains, llama_names = [], {}
    for name, spec in raw.items():
        _require(
            isinstance(name, str) and bool(_NAME.fullmatch(name)),
            path,
            "chain",
            name,
            "chain names are lower-case identifiers (they name resources and table rows)",
        )
        spec = _keys(spec, _CHAIN_KEYS, path, name, _OPTIONAL_CHAIN_KEYS)
        env = spec["rpc_url_env"]
        _require(
            isinstance(env, str) and bool(_ENV.fullmatch(env)),
            path,
            f"{name}.rpc_url_env",
            env,
            "not an environment variable name",
        )
        confirmations = spec["confirmations"]
        _require(
            _whole(confirmations, 1, 10_000),
            path,
            f"{name}.confirmations",
            confirmations,
            "not a whole number of blocks in 1..10000",
        )
        _require(
            _whole(spec["chain_id"], 1, 2**53),
            path,
            f"{name}.chain_id",
            spec["chain_id"],
            "not a positive whole number (the node's eth_chainId)",
        )
        anchor = _keys(spec["anchor"], {"number", "timestamp"}, path, f"{name}.anchor")
        _require(
            _whole(anchor["number"], 1, 2**53),
            path,
            f"{name}.anchor.number",
            anchor["number"],
            "not a block number above 0",
        )
        _require(
            _whole(anchor["timestamp"], 1, 2**40),
            path,
            f"{name}.anchor.timestamp",
            anchor["timestamp"],
            "not a unix timestamp in seconds",
        )
        topics = spec.get("max_topic_values", 500)
        # 1,000 is what geth, Erigon and java-tron accept per position; stay below it.
        _require(
            _whole(topics, 1, 1000),
            path,
            f"{name}.max_topic_values",
            topics,
            "not a whole number in 1..1000 (nodes refuse more than 1,000)",
        )
        llama = spec.get("defillama_chain", name.title())
        _require(
            isinstance(llama, str) and bool(_LLAMA_CHAIN.fullmatch(llama)),
            path,
            f"{name}.defillama_chain",
            llama,
            "not a DefiLlama chain name (letters, digits, "
            "spaces, '.', '_' or '-', as DefiLlama writes it: Ethereum, BSC, zkSync Era)",
        )
        # DefiLlama matches chain names case-insensitively: two entries would be one chain.
        _require(
            llama.lower() not in llama_names,
            path,
            f"{name}.defillama_chain",
            llama,
            f"the same DefiLlama chain as {llama_names.get(llama.lower())}",
        )
        llama_names[llama.lower()] = name
        _require(
            isinstance(spec["tokens"], dict) and spec["tokens"],
            path,
            f"{name}.tokens",
            spec["tokens"],
            "no tokens configured",
        )
        tokens, addresses = [], set()
        for symbol, token in spec["tokens"].items():
            field = f"{name}.tokens.{symbol}"
            _require(
                isinstance(symbol, str) and bool(_SYMBOL.fullmatch(symbol)),
                path,
                field,
                symbol,
                "token symbols are upper case",
            )
            token = _keys(token, _TOKEN_KEYS, path, field, _OPTIONAL_TOKEN_KEYS)
            _require(
                token["standard"] in STANDARDS,
                path,
                f"{field}.standard",
                token["standard"],
                f"not one of {STANDARDS}",
            )
            address = token["address"]
            try:
                checksummed = to_checksum_address(address)
            except (TypeError, ValueError):
                checksummed = None
            _require(
                checksummed == address,
                path,
                f"{field}.address",
                address,
                "not a checksummed 20-byte address",
            )
            _require(
                address not in addresses,
                path,
                f"{field}.address",
                address,
                "the same contract is configured twice",
            )
            addresses.add(address)
            decimals = token["decimals"]
            _require(
                _whole(decimals, 0, 36),
                path,
                f"{field}.decimals",
                decimals,
                "not a whole number in 0..36",
            )
            bridged = token.get("bridged", False)
            _require(
                isinstance(bridged, bool), path, f"{field}.bridged", bridged, "not true or false"
            )
            late = token.get("deployed_after_anchor", False)
            _require(
                isinstance(late, bool),
                path,
                f"{field}.deployed_after_anchor",
                late,
                "not true or false",
            )
            tokens.append(Token(symbol, address, decimals, token["standard"], bridged, late))
        chains.append(
            Chain(
                name,
                env,
                spec["chain_id"],
                Anchor(anchor["number"], anchor["timestamp"]),
                confirmations,
                tuple(tokens),
                topics,
                llama,
            )
        )
    return tuple(chains)


def enabled(chains: tuple[Chain, ...], value: str | None) -> tuple[Chain, ...]:
    """The chains a deployment reads: STABLEFLOW_CHAINS (comma-separated names, in the
    order of chains.yaml), default every configured chain. A deployment without a node for
    one chain leaves it out here rather than editing chains.yaml."""
    if value is None or not value.strip():
        return chains
    names = [n.strip() for n in value.split(",") if n.strip()]
    known = [c.name for c in chains]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"environment variable STABLEFLOW_CHAINS={value!r}: {unknown} not in "
            f"{CHAINS_FILE.name} (configured: {', '.join(known)})"
        )
    return tuple(c for c in chains if c.name in names)


CONFIGURED = load_chains()
CHAINS = enabled(CONFIGURED, os.environ.get("STABLEFLOW_CHAINS"))


def balances_from(chain: Chain) -> str:
    """How the deployment reads `chain`'s past balances and supply, from
    STABLEFLOW_<CHAIN>_BALANCES: "state" (eth_call at each closing block: an archive node) or
    "logs" (state at the final block rewound with logs: any full node)."""
    name = f"STABLEFLOW_{chain.name.upper()}_BALANCES"
    value = os.environ.get(name, "state")
    if value not in ("state", "logs"):
        raise ConfigError(
            f"environment variable {name}={value!r}: expected 'state' (an archive "
            f"node) or 'logs' (a full node: balances rewound with logs)"
        )
    return value
