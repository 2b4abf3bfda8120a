import { expect } from "chai";
import fc from "fast-check";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Agent } from "../../firmware/agent/agent.js";
import { SwDriver } from "../../firmware/agent/drivers/sw.js";
import { parseRequest, parseResponse } from "../../offchain/attest/bridge/messages.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";
import { bootInputs } from "./helpers.js";

const typedOnly = (fn: () => unknown): boolean => {
  try {
    fn();
    return true;
  } catch (e) {
    return isTrustmeshError(e, "MESSAGE_INVALID");
  }
};

// Requests near the valid shape, so mutations reach deep validation branches.
const nearRequest = fc.record(
  {
    v: fc.oneof(fc.constant(1), fc.integer()),
    id: fc.oneof(fc.nat(), fc.integer(), fc.string()),
    type: fc.constantFrom("hello", "quote", "enrolment-info", "activate-credential", "scratch-wipe", "other"),
    nonce: fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 40 }).map((b) => Buffer.from(b).toString("hex")), fc.string()),
    issuedAt: fc.oneof(fc.integer(), fc.double(), fc.string()),
    selection: fc.oneof(
      fc.array(fc.record({ bank: fc.constantFrom("sha1", "sha256", "md5"), pcrs: fc.array(fc.integer({ min: -2, max: 30 }), { maxLength: 26 }) }), { maxLength: 5 }),
      fc.anything(),
    ),
    include: fc.array(fc.constantFrom("eventlog", "fingerprint", "scratch", "counters", "x")),
    blob: fc.oneof(fc.base64String(), fc.string()),
  },
  { requiredKeys: [] },
);

describe("bridge messages and agent under random input", function () {
  it("parseRequest/parseResponse raise only MESSAGE_INVALID on 10,000 random frames", function () {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map((j) => Buffer.from(j)), nearRequest.map((o) => Buffer.from(JSON.stringify(o)))), (frame) =>
        typedOnly(() => parseRequest(frame)) && typedOnly(() => parseResponse(frame)),
      ),
      { numRuns: 10_000 },
    );
  });

  it("Agent.handle answers every random frame (no throw) and keeps serving", async function () {
    const work = await mkdtemp(join(tmpdir(), "trustmesh-fuzz-"));
    const agent = await Agent.start({ driver: new SwDriver({ stateDir: join(work, "sw") }), stateDir: join(work, "agent"), boot: bootInputs(randomBytes(16)), fingerprint: { root: join(work, "nofs") } });
    try {
      const binding = randomBytes(32);
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), nearRequest.map((o) => Buffer.from(JSON.stringify(o)))), async (frame) => {
          const r = await agent.handle(frame, binding);
          // An INTERNAL error would mean an untyped exception escaped a handler.
          return typeof r.type === "string" && r.v === 1 && !(r.type === "error" && r.code === "INTERNAL");
        }),
        { numRuns: 2_000 },
      );
      const ok = await agent.handle(Buffer.from(JSON.stringify({ v: 1, id: 7, type: "hello" })), binding);
      expect(ok.type).to.equal("hello");
    } finally {
      await agent.stop();
      await rm(work, { recursive: true, force: true });
    }
  });
});
