// SPDX-License-Identifier: Apache-2.0
// SANDBOX RE-IMPLEMENTATION, NOT THE REAL CONTRACT. It reproduces only the event and
// function signatures (topic0s, selectors) and the supply semantics of mainnet USDT
// (TetherToken at 0xdAC17F958D2ee523a2206206994597C13D831ec7) that stableflow reads:
// issue/redeem change totalSupply and emit ONLY Issue/Redeem (no Transfer), and
// destroyBlackFunds zeroes a blacklisted balance and shrinks totalSupply. Fees, pausing,
// approvals and the upgrade path of the real contract are left out.
// There is no constructor: sandbox/chain.py places the runtime code with anvil_setCode
// and then calls initialize() once to set the owner and the decimals (chains.yaml).
pragma solidity 0.8.30;

contract TetherToken {
    address public owner;
    uint256 private _totalSupply;
    mapping(address => uint256) private balances;
    mapping(address => bool) public isBlackListed;

    // Real TetherToken: decimals is a public uint (uint256), transfer returns nothing.
    uint256 public decimals;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Issue(uint256 amount);
    event Redeem(uint256 amount);
    event AddedBlackList(address _user);
    event DestroyedBlackFunds(address _blackListedUser, uint256 _balance);

    modifier onlyOwner() {
        require(msg.sender == owner, "not owner");
        _;
    }

    function initialize(address _owner, uint8 _decimals) external {
        require(owner == address(0), "initialized");
        owner = _owner;
        decimals = _decimals;
    }

    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }

    function balanceOf(address who) external view returns (uint256) {
        return balances[who];
    }

    function transfer(address _to, uint256 _value) external {
        require(!isBlackListed[msg.sender], "blacklisted");
        require(balances[msg.sender] >= _value, "balance");
        balances[msg.sender] -= _value;
        balances[_to] += _value;
        emit Transfer(msg.sender, _to, _value);
    }

    function issue(uint256 amount) external onlyOwner {
        balances[owner] += amount;
        _totalSupply += amount;
        emit Issue(amount);
    }

    function redeem(uint256 amount) external onlyOwner {
        require(balances[owner] >= amount, "balance");
        balances[owner] -= amount;
        _totalSupply -= amount;
        emit Redeem(amount);
    }

    function getBlackListStatus(address _maker) external view returns (bool) {
        return isBlackListed[_maker];
    }

    function addBlackList(address _evilUser) external onlyOwner {
        isBlackListed[_evilUser] = true;
        emit AddedBlackList(_evilUser);
    }

    function destroyBlackFunds(address _blackListedUser) external onlyOwner {
        require(isBlackListed[_blackListedUser], "not blacklisted");
        uint256 dirtyFunds = balances[_blackListedUser];
        balances[_blackListedUser] = 0;
        _totalSupply -= dirtyFunds;
        emit DestroyedBlackFunds(_blackListedUser, dirtyFunds);
    }
}
