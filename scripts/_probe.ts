import "../offchain/core/polyfills.js";
import { Machine } from "../offchain/devnet/machine.js";
import { BOOT_IMAGE, WORKER_IMAGE } from "../offchain/devnet/devnet.js";
import { AgentClient } from "../offchain/attest/bridge/client.js";
import { mkdtemp } from "node:fs/promises"; import { tmpdir } from "node:os"; import { join } from "node:path";
const dir = await mkdtemp(join(tmpdir(), "probe-"));
const m = await Machine.start({ dir: join(dir, "m"), caDir: join(dir, "ca"), image: { bootImage: BOOT_IMAGE, kernelCmdline: "x", containers: [WORKER_IMAGE] } });
const c = await AgentClient.connect({ port: m.port, staticKey: m.gatewayKey, agentKey: m.agentKey.publicKey });
for (let round = 0; round < 4; round++) {
  const t = Date.now();
  const rs = await Promise.allSettled(Array.from({length: 6}, (_, i) => c.quote({ selection: [{ bank: "sha256", pcrs: [0,1,2,3,4,5,6,7,8,9,10,11] }], include: ["eventlog", "fingerprint", "scratch", "counters"] }).then(() => Date.now() - t)));
  console.log("round", round, rs.map(r => r.status === "fulfilled" ? r.value : (r.reason as Error).message.slice(0, 80)));
}
c.close(); await m.stop(); process.exit(0);
