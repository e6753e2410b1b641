"""The EVM chains and tokens the pipeline follows, from `chains.yaml`."""

from __future__ import annotations

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


def load_chains(path: Path = CHAINS_FILE) -> tuple[Chain, ...]:
    raw = yaml.safe_load(path.read_text())
    chains = []
    for name, spec in raw.items():
        tokens = []
        for symbol, token in spec["tokens"].items():
            if token["standard"] not in STANDARDS:
                raise ValueError(f"{path}: {name}.{symbol}.standard {token['standard']!r} "
                                 f"is not one of {STANDARDS}")
            if to_checksum_address(token["address"]) != token["address"]:
                raise ValueError(f"{path}: {name}.{symbol}.address {token['address']!r} "
                                 "is not checksummed")
            tokens.append(Token(symbol, token["address"], int(token["decimals"]), token["standard"]))
        chains.append(Chain(name, spec["rpc_url_env"], int(spec["confirmations"]),
                            tuple(tokens)))
    return tuple(chains)


CHAINS = load_chains()
