// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// Reads balanceOf(holder) for every (token, holder) pair in a single eth_call.
///
/// Never deployed: the pipeline passes this contract's runtime code as a state override of
/// the called address (eth_call's third parameter, supported by geth, erigon, nethermind,
/// anvil and the large RPC providers). Calldata has no selector: a uint256 token count,
/// then the token addresses, then the holder addresses, each packed in 20 bytes (about a
/// seventh of Multicall3's ABI encoding, which would resend 224 bytes per pair per day).
/// Returns 32-byte words: first one per token, 1 when the token has code at the block, 0
/// when it has none; then the balances, token-major: [t0h0, t0h1, ..., t1h0, ...].
/// Nodes cap the gas of an eth_call (geth and Erigon --rpc.gascap, Nitro
/// --execution.rpc.gas-cap: 50M by default). A call about to run out of it reverts "out of
/// gas" before the next balanceOf, so the caller can send fewer pairs per call; without that
/// check a balanceOf starved of gas would read as a token whose balanceOf fails.
/// A token with no code at the block holds no balances there: its flag and words stay zero,
/// and the caller tells a token deployed later (Arbitrum's native USDC before 2023) from a
/// wrong address or a node that lost the block's state (extract.py).
/// Build: assets/ingest/evm/contracts/build.js (pinned solc-js) writes BalanceReader.runtime.hex.
contract BalanceReader {
    // Far above what a balanceOf of USDT or USDC costs (under 10k gas, proxy included).
    uint256 constant RESERVE = 100_000;

    fallback(bytes calldata input) external returns (bytes memory out) {
        uint256 nTokens = uint256(bytes32(input[0:32]));
        uint256 holdersAt = 32 + 20 * nTokens;
        uint256 nHolders = (input.length - holdersAt) / 20;
        out = new bytes(32 * nTokens * (nHolders + 1));
        bytes memory request = new bytes(36);
        for (uint256 t = 0; t < nTokens; t++) {
            address token = address(bytes20(input[32 + 20 * t:52 + 20 * t]));
            if (token.code.length == 0) continue;
            assembly {
                mstore(add(add(out, 32), mul(32, t)), 1)
            }
            for (uint256 h = 0; h < nHolders; h++) {
                uint256 p = holdersAt + 20 * h;
                address holder = address(bytes20(input[p:p + 20]));
                require(gasleft() > RESERVE, "out of gas");
                uint256 value;
                bool ok;
                // balanceOf(holder) into a reused buffer: no memory growth per pair.
                assembly {
                    mstore(add(request, 32), shl(224, 0x70a08231))
                    mstore(add(request, 36), holder)
                    ok := staticcall(gas(), token, add(request, 32), 36, 0, 32)
                    ok := and(ok, eq(returndatasize(), 32))
                    value := mload(0)
                }
                require(ok, "balanceOf failed");
                uint256 o = 32 * (nTokens + t * nHolders + h);
                assembly {
                    mstore(add(add(out, 32), o), value)
                }
            }
        }
    }
}
