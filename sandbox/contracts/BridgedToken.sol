// SPDX-License-Identifier: Apache-2.0
// SANDBOX RE-IMPLEMENTATION, NOT THE REAL CONTRACT. A bridged ERC-20 (chains.yaml standard
// `erc20`, e.g. USDT on Arbitrum at 0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9): the bridge
// mints it against tokens locked on another chain and burns it when they go back. It has no
// issuance event of its own: bridgeMint emits only Transfer(0x0 -> account) and bridgeBurn
// only Transfer(account -> 0x0), as OpenZeppelin's ERC20 _mint/_burn do. The function names
// are Arbitrum's token-bridge interface (IArbToken: bridgeMint/bridgeBurn, callable by the
// L2 gateway only); approvals, permits and upgrades are left out.
// There is no constructor: sandbox/chain.py places the runtime code with anvil_setCode
// and then calls initialize() once to set the gateway and the decimals (chains.yaml).
pragma solidity 0.8.30;

contract BridgedToken {
    address public l2Gateway;
    uint256 private _totalSupply;
    mapping(address => uint256) private balances;

    uint8 public decimals;

    event Transfer(address indexed from, address indexed to, uint256 value);

    modifier onlyGateway() {
        require(msg.sender == l2Gateway, "not gateway");
        _;
    }

    function initialize(address _gateway, uint8 _decimals) external {
        require(l2Gateway == address(0), "initialized");
        l2Gateway = _gateway;
        decimals = _decimals;
    }

    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }

    function balanceOf(address account) external view returns (uint256) {
        return balances[account];
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(to != address(0), "transfer to the zero address");
        require(balances[msg.sender] >= value, "transfer amount exceeds balance");
        balances[msg.sender] -= value;
        balances[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function bridgeMint(address account, uint256 amount) external onlyGateway {
        require(account != address(0), "mint to the zero address");
        _totalSupply += amount;
        balances[account] += amount;
        emit Transfer(address(0), account, amount);
    }

    function bridgeBurn(address account, uint256 amount) external onlyGateway {
        require(balances[account] >= amount, "burn amount exceeds balance");
        balances[account] -= amount;
        _totalSupply -= amount;
        emit Transfer(account, address(0), amount);
    }
}
