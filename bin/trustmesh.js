#!/usr/bin/env node
// Entry point of the `trustmesh` CLI: loads the TypeScript sources through tsx.
import { register } from "tsx/esm/api";
register();
await import("../offchain/core/polyfills.ts");
const { main } = await import("../offchain/cli/main.ts");
process.exitCode = await main(process.argv);
