import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../offchain/cli/main.js";
import { bytesToHex, derivePublicKey, hexToBytes } from "../../offchain/core/vrf/index.js";
import { vectors, vrfRsVector } from "./vectors.js";

/** Runs the CLI in-process and captures stdout/stderr. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => (out.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => (err.push(String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await main(["node", "trustmesh", ...args]);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

describe("trustmesh vrf CLI", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tm-vrf-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const v1 = vectors.verify.valid[0]!;

  it("verify prints the 32-byte output of a witnet vector and exits 0 (compressed and uncompressed keys)", async () => {
    const r = await run("vrf", "verify", "--public-key", v1.pub, "--message", v1.message, "--proof", v1.pi);
    expect(r.code).to.equal(0);
    expect(r.stdout.trim()).to.equal(v1.hash);
    const un = bytesToHex(derivePublicKey(hexToBytes(vrfRsVector.secretKey), false));
    const j = await run("vrf", "verify", "--public-key", un, "--message", v1.message, "--proof", vrfRsVector.pi, "--json");
    expect(j.code).to.equal(0);
    expect(JSON.parse(j.stdout)).to.deep.equal({ valid: true, output: v1.hash });
  });

  it("exits 1 on an invalid proof", async () => {
    const r = await run("vrf", "verify", "--public-key", v1.pub, "--message", "0x6e6f7473616d706c65", "--proof", v1.pi, "--json");
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.stdout)).to.deep.equal({ valid: false });
  });

  it("exits 2 on unusable input: bad hex, wrong lengths, points off the curve", async () => {
    const offCurve = `0x02${"00".repeat(31)}05`;
    const cases: string[][] = [
      ["--public-key", v1.pub, "--message", "0xzz", "--proof", v1.pi],
      ["--public-key", v1.pub, "--message", "0x123", "--proof", v1.pi],
      ["--public-key", `${v1.pub}00`, "--message", v1.message, "--proof", v1.pi],
      ["--public-key", v1.pub, "--message", v1.message, "--proof", v1.pi.slice(0, -2)],
      ["--public-key", offCurve, "--message", v1.message, "--proof", v1.pi],
      ["--public-key", v1.pub, "--message", v1.message, "--proof", offCurve + v1.pi.slice(68)],
      ["--public-key", `0x05${v1.pub.slice(4)}`, "--message", v1.message, "--proof", v1.pi],
    ];
    for (const c of cases) {
      const r = await run("vrf", "verify", ...c);
      expect(r.code, c.join(" ")).to.equal(2);
      expect(r.stderr).to.match(/^error: /);
    }
  });

  it("keygen writes a 0600 key file, prove uses it, verify accepts the proof", async () => {
    const keyFile = join(dir, "vrf.key");
    const k = await run("vrf", "keygen", "--out", keyFile, "--json");
    expect(k.code).to.equal(0);
    const { publicKey } = JSON.parse(k.stdout) as { publicKey: string };
    expect((await stat(keyFile)).mode & 0o777).to.equal(0o600);
    expect((await readFile(keyFile, "utf8")).trim()).to.match(/^[0-9a-f]{64}$/);
    expect((await run("vrf", "keygen", "--out", keyFile)).code).to.equal(2); // never overwrites

    const p = await run("vrf", "prove", "--key", keyFile, "--message", "0xdeadbeef", "--json");
    expect(p.code).to.equal(0);
    const proved = JSON.parse(p.stdout) as { proof: string; output: string; publicKey: string };
    expect(proved.publicKey).to.equal(publicKey);
    const v = await run("vrf", "verify", "--public-key", publicKey, "--message", "deadbeef", "--proof", proved.proof);
    expect(v.code).to.equal(0);
    expect(v.stdout.trim()).to.equal(proved.output);
  });

  it("prove reproduces vrf-rs's published proof from a key file", async () => {
    const keyFile = join(dir, "rs.key");
    await writeFile(keyFile, `0x${vrfRsVector.secretKey}\n`);
    const r = await run("vrf", "prove", "--key", keyFile, "--message", vrfRsVector.message);
    expect(r.code).to.equal(0);
    expect(r.stdout.trim()).to.equal(`0x${vrfRsVector.pi}`);
  });

  it("prove exits 2 for a missing or malformed key file", async () => {
    expect((await run("vrf", "prove", "--key", join(dir, "none"), "--message", "00")).code).to.equal(2);
    const bad = join(dir, "short.key");
    await writeFile(bad, "abcd");
    expect((await run("vrf", "prove", "--key", bad, "--message", "00")).code).to.equal(2);
  });

  it("the real binary sets the process exit code", function () {
    this.timeout(60_000);
    const bin = join(import.meta.dirname, "../../bin/trustmesh.js");
    const ok = spawnSync(bin, ["vrf", "verify", "--public-key", v1.pub, "--message", v1.message, "--proof", v1.pi], { encoding: "utf8" });
    expect(ok.status).to.equal(0);
    expect(ok.stdout.trim()).to.equal(v1.hash);
    const bad = spawnSync(bin, ["vrf", "verify", "--public-key", v1.pub, "--message", "00", "--proof", v1.pi], { encoding: "utf8" });
    expect(bad.status).to.equal(1);
    const unusable = spawnSync(bin, ["vrf", "verify", "--public-key", "0x02", "--message", "00", "--proof", v1.pi], { encoding: "utf8" });
    expect(unusable.status).to.equal(2);
  });
});
