// SPDX-License-Identifier: Apache-2.0
// SANDBOX RE-IMPLEMENTATION, NOT THE REAL CONTRACT. Mainnet USDC (FiatTokenProxy, an
// AdminUpgradeabilityProxy: 0xA0b86991...eB48), Arbitrum's native USDC (the same) and
// Arbitrum's USDT0 (an OpenZeppelin TransparentUpgradeableProxy: 0xFd086bC7...Cbb9) are proxies:
// every call runs the implementation's code by DELEGATECALL on the proxy's storage, and
// eth_getCode at the token's address answers the proxy's code. This one keeps only that:
// the implementation's address in the EIP-1967 slot, no admin and no upgrade function.
// sandbox/chain.py places it with anvil_setCode and writes the slot with anvil_setStorageAt.
pragma solidity 0.8.30;

contract TokenProxy {
    // bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)
    bytes32 internal constant IMPLEMENTATION_SLOT =
        0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    fallback() external payable {
        assembly {
            let implementation := sload(IMPLEMENTATION_SLOT)
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), implementation, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}
