// SPDX-License-Identifier: MIT
// SANDBOX RE-IMPLEMENTATION of the aggregate3 entry point of Multicall3
// (0xcA11bde05977b3631167028862bE2a173976CA11, https://github.com/mds1/multicall), with
// the same ABI and selector (0x82ad56cb) and the same semantics, so a client written for
// mainnet Multicall3 works unchanged. The other Multicall3 functions are left out.
pragma solidity 0.8.30;

contract Multicall3 {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    function aggregate3(Call3[] calldata calls) public payable returns (Result[] memory returnData) {
        uint256 length = calls.length;
        returnData = new Result[](length);
        for (uint256 i = 0; i < length; i++) {
            Call3 calldata calli = calls[i];
            Result memory result = returnData[i];
            (result.success, result.returnData) = calli.target.call(calli.callData);
            require(calli.allowFailure || result.success, "Multicall3: call failed");
        }
    }

    function getBlockNumber() public view returns (uint256 blockNumber) {
        blockNumber = block.number;
    }

    function getCurrentBlockTimestamp() public view returns (uint256 timestamp) {
        timestamp = block.timestamp;
    }
}
