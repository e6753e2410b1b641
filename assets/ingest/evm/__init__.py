"""On-chain ingest: day boundaries, supply, issuance, exchange reserves and flows via JSON-RPC."""

from assets.ingest.evm.assets import evm_assets

__all__ = ["evm_assets"]
