/**
 * Regenerates test/fixtures/attest/ from a real (software) TPM: starts swtpm, allocates
 * sha1+sha256+sha384 PCR banks, creates an EK and four AKs (ECC P-256, ECC P-384,
 * RSA-2048 RSASSA, RSA-2048 RSAPSS), measures a boot chain with a matching event log and
 * writes good and tampered evidence directories plus a golden policy.
 *
 *   npx tsx scripts/make-attest-fixtures.ts [outDir]
 *
 * The outputs are committed so unit tests run without swtpm. Re-running produces new keys
 * and quotes (TPM randomness), so tests must not hard-code values from them.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Swtpm } from "../test/attest/helpers/swtpm.js";
import {
  allocateBanks, bootEvents, createAk, createEk, measure, quoteTo, readPcrsTo, type AkKind,
} from "../test/attest/helpers/evidence.js";
import { writeEventLog } from "../test/attest/helpers/eventlog-writer.js";

const out = process.argv[2] ?? "test/fixtures/attest";
const SELECTION = "sha1:0,4,7,8,9+sha256:0,4,7,8,9+sha384:0,4,7,8,9";
const BOOT_IMAGE_V1 = Buffer.from("trustmesh hpc boot image v1\n");
const BOOT_IMAGE_V2 = Buffer.from("trustmesh hpc boot image v2\n");
const ROGUE_IMAGE = Buffer.from("an unapproved boot image\n");
const CONTAINER = Buffer.from("trustmesh scoring container 1.0\n");
const CMDLINE = "console=ttyS0 trustmesh.boot_nonce=5f2c9a";

const AKS: { kind: AkKind; handle: string }[] = [
  { kind: "ecc", handle: "0x81010002" },
  { kind: "ecc384", handle: "0x81010003" },
  { kind: "rsa", handle: "0x81010004" },
  { kind: "rsapss", handle: "0x81010005" },
];

function nonce(label: string): Buffer {
  return createHash("sha256").update(`trustmesh fixture nonce ${label}`).digest();
}

function sha(alg: string, b: Buffer): string {
  return createHash(alg).update(b).digest("hex");
}

async function main(): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tpm = await Swtpm.start();
  const manifest: Record<string, unknown> = { selection: SELECTION, fixtures: {} as Record<string, unknown> };
  const fixtures = manifest.fixtures as Record<string, unknown>;
  try {
    await allocateBanks(tpm);
    await createEk(tpm, out);
    for (const ak of AKS) await createAk(tpm, ak.kind, ak.handle, join(out, "keys", ak.kind));

    // Boot 1: the approved image.
    const boot1 = bootEvents(BOOT_IMAGE_V1, CMDLINE, CONTAINER);
    await measure(tpm, boot1);
    for (const ak of AKS) {
      await quoteTo(tpm, join(out, ak.kind), { ...ak, akDir: join(out, "keys", ak.kind), selection: SELECTION, nonce: nonce(ak.kind), events: boot1 });
      fixtures[ak.kind] = { ak: ak.kind, boot: 1, expect: "valid", nonce: nonce(ak.kind).toString("hex") };
    }
    const ecc = { ...AKS[0]!, akDir: join(out, "keys", "ecc"), selection: SELECTION };
    await quoteTo(tpm, join(out, "tampered-wrong-nonce"), { ...ecc, nonce: nonce("sent"), claimedNonce: nonce("expected"), events: boot1 });
    fixtures["tampered-wrong-nonce"] = { ak: "ecc", boot: 1, expect: "NONCE_MISMATCH" };

    // Quote, then a PCR moves before the values are read: values no longer match the digest.
    const extra = { pcrIndex: 9, eventType: 0xd, data: Buffer.from("late container"), digests: undefined };
    const changedDir = join(out, "tampered-pcr-changed");
    await quoteTo(tpm, changedDir, { ...ecc, nonce: nonce("pcr-changed"), events: boot1 });
    await measure(tpm, [extra]);
    await readPcrsTo(tpm, changedDir, SELECTION);
    writeFileSync(join(changedDir, "eventlog.bin"), writeEventLog([4, 0xb, 0xc], [...boot1, extra]));
    fixtures["tampered-pcr-changed"] = { ak: "ecc", boot: 1, expect: "PCR_DIGEST_MISMATCH" };

    // Boot 2: a reboot (resetCount + 1), same approved chain.
    await tpm.restart();
    await measure(tpm, boot1);
    await quoteTo(tpm, join(out, "reboot"), { ...ecc, nonce: nonce("reboot"), events: boot1 });
    fixtures.reboot = { ak: "ecc", boot: 2, expect: "valid; REBOOT_DETECTED against ecc/" };

    // Boot 3: an image the policy does not approve.
    await tpm.restart();
    const boot3 = bootEvents(ROGUE_IMAGE, CMDLINE, CONTAINER);
    await measure(tpm, boot3);
    await quoteTo(tpm, join(out, "unapproved-image"), { ...ecc, nonce: nonce("unapproved-image"), events: boot3 });
    fixtures["unapproved-image"] = { ak: "ecc", boot: 3, expect: "quote valid; policy POLICY_EVENTLOG_MISSING_DIGEST" };
  } finally {
    await tpm.stop();
  }

  // The golden policy: boot-1 PCR 0 exactly, its event sequence, an approved boot image, the container.
  const pcrs = readFileSync(join(out, "ecc", "pcrs.bin"));
  // sha1 block = 5*20 bytes; sha256 PCR 0 is the first 32 bytes after it.
  const pcr0sha256 = pcrs.subarray(100, 132).toString("hex");
  const boot1 = bootEvents(BOOT_IMAGE_V1, CMDLINE, CONTAINER);
  const policy = {
    version: 1,
    name: "trustmesh-hpc-boot",
    description: "Fixture policy: approved CRTM, one of the approved boot images, the scoring container",
    rules: [
      { kind: "pcr_matches", bank: "sha256", pcr: 0, value: pcr0sha256, label: "CRTM" },
      { kind: "eventlog_equals", bank: "sha256", pcr: 0, digests: boot1.filter((e) => e.pcrIndex === 0).map((e) => sha("sha256", e.data)), label: "CRTM events" },
      { kind: "eventlog_includes", bank: "sha256", pcr: 4, match: "any", digests: [sha("sha256", BOOT_IMAGE_V1), sha("sha256", BOOT_IMAGE_V2)], label: "approved boot images (ImageRegistry)" },
      { kind: "eventlog_includes", bank: "sha384", pcr: 9, digests: [sha("sha384", CONTAINER)], label: "scoring container" },
    ],
  };
  writeFileSync(join(out, "policy.json"), `${JSON.stringify(policy, null, 2)}\n`);
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const k of AKS) rmSync(join(out, "keys", k.kind, "ak.ctx"), { force: true });
  process.stdout.write(`fixtures written to ${out}\n`);
}

await main();
