import { expect } from "chai";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildPoseidon } from "circomlibjs";
import {
  FINGERPRINT_KEYS,
  TREE_DEPTH,
  buildFingerprintTree,
  collectFingerprint,
  fingerprintRoot,
  compareFingerprint,
  parseItems,
  proveItem,
  valueField,
  verifyItemProof,
  type FingerprintItems,
} from "../../offchain/attest/fingerprint/index.js";
import { isTrustmeshError } from "../../offchain/core/errors.js";

const ITEMS: FingerprintItems = {
  "cpu.model": "AMD EPYC 7763 64-Core Processor",
  "cpu.cores": "128",
  "dmi.sys_vendor": "Supermicro",
  "dmi.product_name": "AS-2124US-TNRP",
  "dmi.product_uuid": "4c4c4544-0031-3510-8051-b4c04f4e4e32",
  "dmi.board_serial": "HM19AS000123",
  "disk.serials": "nvme0n1=S5GXNF0R123456,sda=WD-WX12A3456789",
  "net.macs": "3c:ec:ef:00:11:22,3c:ec:ef:00:11:23",
  "mem.total_mib": "515840",
  "pci.devices": "0000:00:00.0=1022:1480:060000",
};

async function fakeSysfs(root: string): Promise<void> {
  const files: Record<string, string> = {
    "proc/cpuinfo": "processor\t: 0\nmodel name\t: Test CPU @ 3.0GHz\n\nprocessor\t: 1\nmodel name\t: Test CPU @ 3.0GHz\n",
    "proc/meminfo": "MemTotal:       16303340 kB\nMemFree: 1 kB\n",
    "sys/class/dmi/id/sys_vendor": "ACME\n",
    "sys/class/dmi/id/product_name": "Box 9000\n",
    "sys/block/nvme0n1/device/serial": "  SERIAL123  \n",
    "sys/block/loop0/device/serial": "ignored\n",
    "sys/class/net/eth0/address": "AA:BB:CC:DD:EE:FF\n",
    "sys/class/net/eth0/device/vendor": "x",
    "sys/class/net/docker0/address": "02:42:00:00:00:01\n",
    "sys/bus/pci/devices/0000:00:1f.0/vendor": "0x8086\n",
    "sys/bus/pci/devices/0000:00:1f.0/device": "0x1234\n",
    "sys/bus/pci/devices/0000:00:1f.0/class": "0x060100\n",
  };
  for (const [p, c] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), c);
  }
}

describe("hardware fingerprint (Poseidon Merkle tree)", function () {
  it("root is a bytes32 and is deterministic; leaves follow the fixed key order", async function () {
    const a = await buildFingerprintTree(ITEMS);
    const b = await buildFingerprintTree({ ...ITEMS });
    expect(a.root).to.match(/^0x[0-9a-f]{64}$/);
    expect(a.root).to.equal(b.root);
    expect(a.leaves).to.have.length(FINGERPRINT_KEYS.length);
    // Leaf 0 recomputed by hand with circomlibjs: Poseidon(1, valueField(cpu.model)).
    const p = await buildPoseidon();
    const leaf0 = p.F.toObject(p([1n, valueField(ITEMS["cpu.model"])]));
    expect(BigInt(a.leaves[0] as string)).to.equal(leaf0);
  });

  it("fingerprintRoot (memoised) answers the tree's root, for repeated and changed items alike", async function () {
    const changed: FingerprintItems = { ...ITEMS, "cpu.cores": "64" };
    const absent: FingerprintItems = { ...ITEMS, "cpu.cores": null };
    for (const items of [ITEMS, changed, ITEMS, absent, { ...ITEMS, "cpu.cores": undefined }, changed]) {
      expect(await fingerprintRoot(items)).to.equal((await buildFingerprintTree(items)).root);
    }
    expect(await fingerprintRoot(ITEMS)).to.not.equal(await fingerprintRoot(changed));
  });

  it("absent differs from empty, and every item changes the root", async function () {
    const base = await buildFingerprintTree(ITEMS);
    expect(valueField(null)).to.equal(0n);
    expect(valueField("")).to.not.equal(0n);
    for (const k of FINGERPRINT_KEYS) {
      const t = await buildFingerprintTree({ ...ITEMS, [k]: `${ITEMS[k] ?? ""}x` });
      expect(t.root, k).to.not.equal(base.root);
    }
  });

  it("verification recomputes the root and names the changed items", async function () {
    const enrolled = await buildFingerprintTree(ITEMS);
    const same = await compareFingerprint(enrolled, ITEMS);
    expect(same.ok).to.equal(true);
    expect(same.changed).to.deep.equal([]);
    const swapped = await compareFingerprint(enrolled, { ...ITEMS, "disk.serials": "nvme0n1=OTHER", "net.macs": null });
    expect(swapped.ok).to.equal(false);
    expect(swapped.changed).to.deep.equal(["disk.serials", "net.macs"]);
    // With only the on-chain root we still detect the change, without naming it.
    const rootOnly = await compareFingerprint({ root: enrolled.root }, { ...ITEMS, "cpu.cores": "64" });
    expect(rootOnly.ok).to.equal(false);
    expect(rootOnly.changed).to.deep.equal([]);
  });

  it("proves a single item and rejects wrong values, keys and roots", async function () {
    const t = await buildFingerprintTree(ITEMS);
    for (const k of FINGERPRINT_KEYS) {
      const proof = proveItem(t, k);
      expect(proof.siblings).to.have.length(TREE_DEPTH);
      expect(await verifyItemProof(t.root, ITEMS[k] ?? null, proof), k).to.equal(true);
    }
    const proof = proveItem(t, "dmi.product_uuid");
    expect(await verifyItemProof(t.root, "4c4c4544-0000-0000-0000-000000000000", proof)).to.equal(false);
    expect(await verifyItemProof(t.root, ITEMS["dmi.product_uuid"] as string, { ...proof, key: "dmi.board_serial" })).to.equal(false);
    expect(await verifyItemProof(t.root, ITEMS["dmi.product_uuid"] as string, { ...proof, siblings: proof.siblings.slice(1) })).to.equal(false);
    const other = await buildFingerprintTree({ ...ITEMS, "cpu.cores": "1" });
    expect(await verifyItemProof(other.root, ITEMS["dmi.product_uuid"] as string, proof)).to.equal(false);
  });

  it("collects from a Linux-like tree, skipping virtual devices, with graceful absence", async function () {
    const root = await mkdtemp(join(tmpdir(), "trustmesh-fp-"));
    try {
      await fakeSysfs(root);
      const items = await collectFingerprint({ root, overrides: { "dmi.board_serial": "SUPPLIED" } });
      expect(items["cpu.model"]).to.equal("Test CPU @ 3.0GHz");
      expect(items["cpu.cores"]).to.equal("2");
      expect(items["mem.total_mib"]).to.equal("15872"); // 15921 MiB rounded down to 256
      expect(items["disk.serials"]).to.equal("nvme0n1=SERIAL123");
      expect(items["net.macs"]).to.equal("aa:bb:cc:dd:ee:ff");
      expect(items["pci.devices"]).to.equal("0000:00:1f.0=8086:1234:060100");
      expect(items["dmi.product_uuid"]).to.equal(null);
      expect(items["dmi.board_serial"]).to.equal("SUPPLIED");
      const empty = await collectFingerprint({ root: join(root, "nonexistent") });
      expect(Object.values(empty).every((v) => v === null)).to.equal(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("collects on this machine without throwing", async function () {
    const items = await collectFingerprint();
    expect(Object.keys(items)).to.have.members([...FINGERPRINT_KEYS]);
    expect((await buildFingerprintTree(items)).root).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("rejects unknown keys and non-string values in supplied items", function () {
    expect(parseItems({ "cpu.model": " x " })).to.deep.equal({ "cpu.model": "x" });
    for (const bad of [{ "cpu.speed": "1" }, { "cpu.model": 5 }, [], null]) {
      let threw: unknown;
      try {
        parseItems(bad);
      } catch (e) {
        threw = e;
      }
      expect(isTrustmeshError(threw, "FINGERPRINT_INVALID")).to.equal(true);
    }
  });
});
