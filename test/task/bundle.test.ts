import { expect } from "chai";
import { rawCid } from "../../ipfs/adapter/cid.js";
import { bundledTaskSource } from "../../ipfs/tasks/index.js";
import { MAX_BUNDLE_BYTES, TASK_ENTRY, decodeJsonPayload, encodeJsonPayload, loadFunction, parseBundle, publishFunction } from "../../offchain/task/bundle.js";
import { TaskError } from "../../offchain/task/errors.js";
import { tempStore } from "./fixtures.js";

const enc = (s: string) => new TextEncoder().encode(s);

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(TaskError);
    return (e as TaskError).code;
  }
  return undefined;
}

describe("task function bundle", () => {
  it("accepts the bundled intersection function with entry run", async () => {
    const b = parseBundle(await bundledTaskSource("intersection"));
    expect(b.entry).to.equal(TASK_ENTRY);
    expect(b.source).to.contain("function run(inputs)");
  });

  it("rejects empty, oversized, non-UTF-8 sources and sources without run()", () => {
    expect(code(() => parseBundle(new Uint8Array()))).to.equal("TASK_BUNDLE");
    expect(code(() => parseBundle(new Uint8Array(MAX_BUNDLE_BYTES + 1).fill(0x20)))).to.equal("TASK_BUNDLE");
    expect(code(() => parseBundle(Uint8Array.of(0x66, 0xff, 0xfe)))).to.equal("TASK_BUNDLE");
    expect(code(() => parseBundle(enc("function score(x) { return x; }")))).to.equal("TASK_BUNDLE");
    expect(code(() => parseBundle(enc("var running = 1; function runner() {}")))).to.equal("TASK_BUNDLE");
  });

  it("publishes by CID of the exact bytes and loads it back; an absent CID is TASK_FETCH", async () => {
    const s = await tempStore();
    try {
      const bytes = await bundledTaskSource("intersection");
      const cid = await publishFunction(s.store, bytes);
      expect(cid.equals(rawCid(bytes))).to.equal(true);
      expect((await loadFunction(s.store, cid)).source).to.equal(new TextDecoder().decode(bytes));
      const other = rawCid(enc("function run(i) { return 1; }"));
      await loadFunction(s.store, other).then(
        () => expect.fail("absent function loaded"),
        (e: TaskError) => expect(e.code).to.equal("TASK_FETCH"),
      );
    } finally {
      await s.close();
    }
  });

  it("refuses to publish a source that is not a bundle", async () => {
    const s = await tempStore();
    try {
      await publishFunction(s.store, enc("not a function")).then(
        () => expect.fail("published"),
        (e: TaskError) => expect(e.code).to.equal("TASK_BUNDLE"),
      );
    } finally {
      await s.close();
    }
  });

  it("round-trips JSON payloads and rejects non-JSON bytes with the caller's code", () => {
    const v = { names: ["Ada", "Zoë"], n: 2 };
    expect(decodeJsonPayload(encodeJsonPayload(v))).to.deep.equal(v);
    expect(code(() => decodeJsonPayload(enc("{nope")))).to.equal("TASK_INPUT");
    expect(code(() => decodeJsonPayload(Uint8Array.of(0xff), "TASK_RESULT"))).to.equal("TASK_RESULT");
    expect(code(() => encodeJsonPayload(undefined))).to.equal("TASK_INPUT");
  });
});
