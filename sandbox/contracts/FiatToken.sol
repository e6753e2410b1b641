// SPDX-License-Identifier: Apache-2.0
// SANDBOX RE-IMPLEMENTATION, NOT THE REAL CONTRACT. It reproduces only the event and
// function signatures (topic0s, selectors) and the supply semantics of mainnet USDC
// (FiatTokenV2_2 behind the proxy at 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48; Circle's
// native USDC on other chains, such as Arbitrum's 0xaf88...5831, is the same contract) that
// stableflow reads: mint emits Mint AND Transfer(0x0 -> to), burn burns the caller's
// (a minter's) own balance and emits Burn AND Transfer(burner -> 0x0). The proxy,
// master minter, pausing, blacklisting, permits and approvals are left out; the owner
// configures minters directly.
// There is no constructor: sandbox/chain.py places the runtime code with anvil_setCode
// and then calls initialize() once to set the owner and the decimals (chains.yaml).
pragma solidity 0.8.30;

contract FiatToken {
    address public owner;
    uint256 private _totalSupply;
    mapping(address => uint256) private balances;
    mapping(address => bool) internal minters;
    mapping(address => uint256) internal minterAllowed;

    uint8 public decimals;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Mint(address indexed minter, address indexed to, uint256 amount);
    event Burn(address indexed burner, uint256 amount);
    event MinterConfigured(address indexed minter, uint256 minterAllowedAmount);

    function initialize(address _owner, uint8 _decimals) external {
        require(owner == address(0), "initialized");
        owner = _owner;
        decimals = _decimals;
    }

    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }

    function balanceOf(address account) external view returns (uint256) {
        return balances[account];
    }

    function isMinter(address account) external view returns (bool) {
        return minters[account];
    }

    function minterAllowance(address minter) external view returns (uint256) {
        return minterAllowed[minter];
    }

    function configureMinter(address minter, uint256 minterAllowedAmount) external returns (bool) {
        require(msg.sender == owner, "not owner");
        minters[minter] = true;
        minterAllowed[minter] = minterAllowedAmount;
        emit MinterConfigured(minter, minterAllowedAmount);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(to != address(0), "transfer to the zero address");
        require(balances[msg.sender] >= value, "transfer amount exceeds balance");
        balances[msg.sender] -= value;
        balances[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function mint(address _to, uint256 _amount) external returns (bool) {
        require(minters[msg.sender], "caller is not a minter");
        require(_to != address(0), "mint to the zero address");
        require(_amount > 0, "mint amount not greater than 0");
        require(_amount <= minterAllowed[msg.sender], "mint amount exceeds minterAllowance");
        _totalSupply += _amount;
        balances[_to] += _amount;
        minterAllowed[msg.sender] -= _amount;
        emit Mint(msg.sender, _to, _amount);
        emit Transfer(address(0), _to, _amount);
        return true;
    }

    function burn(uint256 _amount) external {
        require(minters[msg.sender], "caller is not a minter");
        require(_amount > 0, "burn amount not greater than 0");
        require(balances[msg.sender] >= _amount, "burn amount exceeds balance");
        _totalSupply -= _amount;
        balances[msg.sender] -= _amount;
        emit Burn(msg.sender, _amount);
        emit Transfer(msg.sender, address(0), _amount);
    }
}
