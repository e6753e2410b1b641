-- Raw: the EVM chains and token contracts the on-chain assets read (core/chains.yaml).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.evm_tokens (
    chain           VARCHAR NOT NULL,
    chain_id        BIGINT  NOT NULL,
    token           VARCHAR NOT NULL,
    address         VARCHAR NOT NULL,
    decimals        INTEGER NOT NULL,
    standard        VARCHAR NOT NULL,
    bridged         BOOLEAN NOT NULL,
    defillama_chain VARCHAR NOT NULL,
    PRIMARY KEY (chain, token)
);
COMMENT ON TABLE raw.evm_tokens IS 'Every token contract the last run read, per chain (core/chains.yaml and STABLEFLOW_CHAINS); replaced whole by every run. Grain: chain x token.';
COMMENT ON COLUMN raw.evm_tokens.chain IS 'Chain name';
COMMENT ON COLUMN raw.evm_tokens.chain_id IS 'EIP-155 chain id the node must answer';
COMMENT ON COLUMN raw.evm_tokens.token IS 'Token symbol (USDT, USDC)';
COMMENT ON COLUMN raw.evm_tokens.address IS 'Token contract address, EIP-55 checksummed';
COMMENT ON COLUMN raw.evm_tokens.decimals IS 'Base units per token, as a power of ten';
COMMENT ON COLUMN raw.evm_tokens.standard IS 'How mints and burns are read: tether (Issue/Redeem/DestroyedBlackFunds), fiattoken (Mint/Burn), erc20 (Transfer from/to 0x0)';
COMMENT ON COLUMN raw.evm_tokens.bridged IS 'Minted by a bridge against tokens locked on another chain, not by the issuer: its mints and burns are not issuance (left out of marts.stablecoin_issuance_daily)';
COMMENT ON COLUMN raw.evm_tokens.defillama_chain IS 'The chain''s name at DefiLlama (raw.defillama_token_supply_by_chain.chain)';
