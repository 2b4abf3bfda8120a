/**
 * The post-run "fresh boot" rule: the boot nonce derivation every verifier shares, and the
 * check of a quoted PCR 11 log against it, on event logs the agent's own measured boot writes.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Measurer, measureBoot, PCR } from "../../firmware/agent/measure.js";
import { parseEventLog, replayEventLog } from "../../offchain/attest/eventlog/parse.js";
import { postRunBootNonce, type PostRunBootFacts } from "../../offchain/core/boot-nonce.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { freshBootFindings } from "../../offchain/relayer/assess.js";

const FACTS: PostRunBootFacts = {
  chainId: 31337,
  taskMarket: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  taskId: 7n,
  submitBlockHash: `0x${"3c".repeat(32)}`,
};

/** A measured boot with `bootNonce`, then any runtime extensions of PCR 11; the log and its replay (what a matching quote vouches for). */
async function bootLog(bootNonce: Uint8Array, later: Uint8Array[] = []) {
  const m = await Measurer.create({ banks: async () => ["sha256"], extend: async () => undefined, readPcrs: async () => expect.fail("not read") });
  await measureBoot(m, { bootImage: { label: "hpc.efi", content: Buffer.from("image") }, bootNonce, kernelCmdline: "console=ttyS0" });
  for (const x of later) await m.measure(PCR.bootNonce, "boot-nonce", Buffer.from(x).toString("hex"), x);
  const eventLog = parseEventLog(m.log.bytes());
  return { eventLog, pcrs: replayEventLog(eventLog) };
}

describe("fresh boot after a task (post-run rounds)", () => {
  describe("postRunBootNonce", () => {
    it("is 32 bytes, the same for every verifier, and changes with each fact", () => {
      const n = postRunBootNonce(FACTS);
      expect(n).to.have.length(32);
      expect(postRunBootNonce({ ...FACTS })).to.deep.equal(n);
      const variants: PostRunBootFacts[] = [
        { ...FACTS, chainId: 1 },
        { ...FACTS, taskMarket: "0x0000000000000000000000000000000000000001" },
        { ...FACTS, taskId: 8n },
        { ...FACTS, submitBlockHash: `0x${"3d".repeat(32)}` },
      ];
      for (const v of variants) expect(Buffer.from(postRunBootNonce(v)).equals(Buffer.from(n)), JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x))).to.equal(false);
    });

    it("refuses malformed facts with a typed error", () => {
      for (const bad of [{ ...FACTS, taskMarket: "0x1234" }, { ...FACTS, submitBlockHash: "0xzz" }, { ...FACTS, taskId: -1n }]) {
        try {
          postRunBootNonce(bad);
          expect.fail("accepted");
        } catch (e) {
          expect(isTrustmeshError(e)).to.equal(true);
        }
      }
    });
  });

  describe("freshBootFindings", () => {
    const nonce = postRunBootNonce(FACTS);

    it("accepts a boot whose first PCR 11 measurement is the post-run nonce", async () => {
      expect(freshBootFindings(await bootLog(nonce), nonce)).to.deep.equal([]);
    });

    it("fails a machine that kept running: its boot nonce is an older one", async () => {
      const f = freshBootFindings(await bootLog(randomBytes(16)), nonce);
      expect(f.map((x) => [x.code, x.severity])).to.deep.equal([["BOOT_NOT_FRESH", "fatal"]]);
    });

    it("fails the nonce extended into PCR 11 at run time, after an older boot's (no TPM reset)", async () => {
      const f = freshBootFindings(await bootLog(randomBytes(16), [nonce]), nonce);
      expect(f.map((x) => x.code)).to.deep.equal(["BOOT_NOT_FRESH"]);
    });

    it("cannot judge without PCR 11 in the quote or without the event log", async () => {
      const { eventLog, pcrs } = await bootLog(nonce);
      pcrs.get(0x000b)?.delete(PCR.bootNonce);
      expect(freshBootFindings({ eventLog, pcrs }, nonce).map((x) => [x.code, x.severity])).to.deep.equal([["BOOT_NONCE_UNVERIFIED", "fatal"]]);
      const whole = await bootLog(nonce);
      expect(freshBootFindings({ pcrs: whole.pcrs }, nonce).map((x) => x.code)).to.deep.equal(["BOOT_NONCE_UNVERIFIED"]);
    });
  });
});
