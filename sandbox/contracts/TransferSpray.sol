// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// Benchmarks only (bench/densechain.py): emits ERC-20 Transfer events in bulk, with no
/// balances behind them, so a chain with 100,000+ transfers is planted in seconds. Placed at
/// a token's address, its logs are indistinguishable from that token's real Transfer logs.
/// Calldata, no selector: records of from (20 bytes), to (20 bytes), value (32 bytes).
contract TransferSpray {
    event Transfer(address indexed from, address indexed to, uint256 value);

    fallback(bytes calldata input) external returns (bytes memory) {
        for (uint256 p = 0; p + 72 <= input.length; p += 72) {
            emit Transfer(address(bytes20(input[p:p + 20])), address(bytes20(input[p + 20:p + 40])),
                          uint256(bytes32(input[p + 40:p + 72])));
        }
        return "";
    }
}
