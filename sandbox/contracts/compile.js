// Compiles the sandbox contracts with the pinned solc-js (package.json), offline.
// Reads the .sol files next to this script, prints {Name: {runtime, abi}} as JSON.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const names = ["TetherToken", "FiatToken", "BridgedToken", "TransferSpray", "TokenProxy"];
const sources = {};
for (const n of names) {
  sources[`${n}.sol`] = { content: fs.readFileSync(path.join(__dirname, `${n}.sol`), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "london",
    outputSelection: { "*": { "*": ["abi", "evm.deployedBytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  process.stderr.write(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const result = {};
for (const n of names) {
  const c = out.contracts[`${n}.sol`][n];
  result[n] = { runtime: "0x" + c.evm.deployedBytecode.object, abi: c.abi };
}
process.stdout.write(JSON.stringify(result));
