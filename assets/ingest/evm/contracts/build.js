// Compiles BalanceReader.sol with the pinned solc-js (package.json) and writes its runtime
// code to BalanceReader.runtime.hex, which the pipeline ships (it needs no node at run time).
// Run: node assets/ingest/evm/contracts/build.js [out] (out: another file to write, which
// tests/ingest/test_evm.py compares with the shipped one)
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const source = fs.readFileSync(path.join(__dirname, "BalanceReader.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "BalanceReader.sol": { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "london",
    outputSelection: { "*": { "*": ["evm.deployedBytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  process.stderr.write(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const code = out.contracts["BalanceReader.sol"].BalanceReader.evm.deployedBytecode.object;
const out_path = process.argv[2] || path.join(__dirname, "BalanceReader.runtime.hex");
fs.writeFileSync(out_path, "0x" + code + "\n");
