import "./offchain/core/polyfills.js";
import { runPbftOverLibp2p } from "./bench/lib/p2p-bench.js";
for (const n of [4, 7]) {
  const t0 = performance.now();
  try { console.log(JSON.stringify(await runPbftOverLibp2p(n, 5, 32))); } catch (e) { console.log("n", n, "failed", (e as Error).message); }
  console.log("n", n, "took", performance.now() - t0);
}
process.exit(0);
