import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../offchain/cli/main.js";
import { FIXTURES, fx } from "./helpers/fixtures.js";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "trustmesh.js");

/** Runs the real binary (one check that the process exit code is wired). */
function spawnCli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI in this process (spawning tsx costs seconds per call on this machine), capturing its output. */
async function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => { out.push(String(c)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { err.push(String(c)); return true; }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(["node", "trustmesh", ...args]);
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
  process.exitCode = undefined;
  return { code, stdout: out.join(""), stderr: err.join("") };
}

function quoteArgs(dir: string, nonce = fx(dir, "nonce.hex").toString().trim()): string[] {
  const f = (n: string) => join(FIXTURES, dir, n);
  return ["verify-quote", "--quote", f("quote.attest"), "--signature", f("quote.sig"), "--ak", f("ak.pub"), "--pcrs", f("pcrs.bin"), "--nonce", nonce];
}

describe("attest CLI", function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), "tm-attest-cli-")); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("verify-quote: exit 0 for a valid quote, JSON on --json", async () => {
    const r = await run(...quoteArgs("rsa"), "--selection", fx("rsa", "selection.txt").toString().trim(), "--json");
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { ok: boolean; findings: unknown[]; quote: { selection: string }; akName: string };
    expect(j.ok).to.equal(true);
    expect(j.findings).to.deep.equal([]);
    expect(j.quote.selection).to.equal("sha1:0,4,7,8,9+sha256:0,4,7,8,9+sha384:0,4,7,8,9");
    expect(j.akName).to.equal(fx("keys", "rsa", "ak.name").toString("hex"));
  });

  it("verify-quote: exit 1 with the reason for a wrong nonce and a changed PCR; AK as PEM", async () => {
    const wrong = await run(...quoteArgs("ecc", "00".repeat(32)));
    expect(wrong.code).to.equal(1);
    expect(wrong.stdout).to.match(/^INVALID/).and.to.include("NONCE_MISMATCH");
    const changed = await run(...quoteArgs("tampered-pcr-changed").map((a) => a.endsWith("ak.pub") ? a.replace("ak.pub", "ak.pem") : a));
    expect(changed.code).to.equal(1);
    expect(changed.stdout).to.include("PCR_DIGEST_MISMATCH");
  });

  it("verify-quote: exit 1 on reboot rollback with --previous-clock; exit 2 for unusable input", async () => {
    const prev = join(tmp, "clock.json");
    writeFileSync(prev, JSON.stringify({ clock: "1", resetCount: 99, restartCount: 0 }));
    const rb = await run(...quoteArgs("ecc"), "--previous-clock", prev);
    expect(rb.code).to.equal(1);
    expect(rb.stdout).to.include("RESET_COUNT_ROLLBACK");
    const bad = await run(...quoteArgs("ecc").map((a) => a.endsWith("quote.attest") ? join(FIXTURES, "ecc", "quote.sig") : a));
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include("TPMS_ATTEST");
    expect((await run(...quoteArgs("ecc", "zz"))).code).to.equal(2);
    expect((await run(...quoteArgs("ecc"), "--selection", "sha256:0")).code).to.equal(2); // PCR file does not fit that selection
    expect((await run("verify-quote", "--quote", join(tmp, "missing"))).code).to.equal(2);
  });

  it("the installed binary exits with 1 for an invalid quote", () => {
    const r = spawnCli(...quoteArgs("tampered-wrong-nonce"));
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).to.include("NONCE_MISMATCH");
  });

  it("eventlog replay: prints events and PCRs; JSON matches; exit 2 on a malformed log", async () => {
    const r = await run("eventlog", "replay", join(FIXTURES, "ecc", "eventlog.bin"), "--json");
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { banks: string[]; events: { pcr: number; type: string }[]; pcrs: Record<string, Record<string, string>> };
    expect(j.banks).to.deep.equal(["sha1", "sha256", "sha384"]);
    expect(j.events.map((e) => e.type)).to.include("EV_SEPARATOR");
    expect(Object.keys(j.pcrs.sha256!)).to.deep.equal(["0", "4", "8", "9"]);
    const human = await run("eventlog", "replay", join(FIXTURES, "ecc", "eventlog.bin"));
    expect(human.stdout).to.include(j.pcrs.sha256!["0"]!);
    const bad = join(tmp, "bad.bin");
    writeFileSync(bad, fx("ecc", "eventlog.bin").subarray(0, 100));
    expect((await run("eventlog", "replay", bad)).code).to.equal(2);
  });

  it("policy check: PASS/FAIL by evidence, exit 2 for an invalid policy", async () => {
    const policy = join(FIXTURES, "policy.json");
    const ok = await run("policy", "check", "--policy", policy, "--evidence", join(FIXTURES, "ecc"));
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/^PASS: policy "trustmesh-hpc-boot" \(4\/4 rules passed\)/);
    const bad = await run("policy", "check", "--policy", policy, "--evidence", join(FIXTURES, "unapproved-image"), "--json");
    expect(bad.code).to.equal(1);
    expect((JSON.parse(bad.stdout) as { findings: { code: string }[] }).findings.map((f) => f.code)).to.include("POLICY_EVENTLOG_MISSING_DIGEST");
    const invalid = join(tmp, "p.json");
    writeFileSync(invalid, JSON.stringify({ version: 1, name: "x", rules: [{ kind: "pcr_matches", bank: "sha256", pcr: 0 }] }));
    const r = await run("policy", "check", "--policy", invalid, "--evidence", join(FIXTURES, "ecc"));
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('missing required property "value"');
  });

  it("policy schema prints the JSON schema with one variant per registered rule kind", async () => {
    const r = await run("policy", "schema");
    expect(r.code).to.equal(0);
    const schema = JSON.parse(r.stdout) as { properties: { rules: { items: { oneOf: { properties: { kind: { const: string } } }[] } } } };
    expect(schema.properties.rules.items.oneOf.map((v) => v.properties.kind.const)).to.deep.equal(["pcr_matches", "eventlog_equals", "eventlog_includes"]);
  });
});
