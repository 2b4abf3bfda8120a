/**
 * PCR selections (TPML_PCR_SELECTION, Part 2, 10.9.7), PCR values in the layout
 * `tpm2_pcrread -o` writes (raw digests, banks in selection order, PCRs ascending) and the
 * quote's PCR digest: H_sign(concatenation of the selected PCR values in that same order).
 */
import { hash } from "node:crypto";
import { AttestError } from "../errors.js";
import { HASH_ALGS, algName, hashAlgByName, hashInfo, hex16, isHashAlg } from "./constants.js";
import { TpmReader } from "./reader.js";
import { TpmWriter } from "./writer.js";

/** One bank of a selection: hash algorithm and the ascending PCR indices selected. */
export interface PcrSelection {
  hashAlg: number;
  pcrs: number[];
  /** Bytes of the select bitmap on the wire (3 for 24 PCRs); kept so encode(parse(x)) = x. */
  sizeofSelect?: number;
}

/** PCR values by bank (TPM hash id) then PCR index. */
export type PcrBanks = Map<number, Map<number, Buffer>>;

/** HASH_COUNT bound: a TPM has at most one selection per implemented hash. */
const MAX_BANKS = 16;
/** PCR_SELECT_MAX for up to 32 PCRs; PC Client TPMs have 24 (3 bytes). */
const MAX_SIZEOF_SELECT = 4;

export function readPcrSelection(r: TpmReader): PcrSelection[] {
  const count = r.u32("TPML_PCR_SELECTION.count");
  if (count > MAX_BANKS) r.fail(`PCR selection count ${count} exceeds ${MAX_BANKS}`);
  const out: PcrSelection[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16("pcrSelections.hash");
    if (!isHashAlg(hashAlg)) r.fail(`PCR bank 0x${hex16(hashAlg)} is not a hash algorithm`);
    if (seen.has(hashAlg)) r.fail(`PCR bank ${algName(hashAlg)} selected twice`);
    seen.add(hashAlg);
    const sizeofSelect = r.u8("sizeofSelect");
    if (sizeofSelect > MAX_SIZEOF_SELECT) r.fail(`sizeofSelect ${sizeofSelect} exceeds ${MAX_SIZEOF_SELECT}`);
    const bitmap = r.bytes(sizeofSelect, "pcrSelect");
    const pcrs: number[] = [];
    for (let byte = 0; byte < sizeofSelect; byte++) {
      for (let bit = 0; bit < 8; bit++) if (bitmap[byte]! & (1 << bit)) pcrs.push(byte * 8 + bit);
    }
    out.push({ hashAlg, pcrs, sizeofSelect });
  }
  return out;
}

export function parsePcrSelection(buf: Uint8Array): PcrSelection[] {
  const r = new TpmReader(buf, { what: "TPML_PCR_SELECTION" });
  const sel = readPcrSelection(r);
  r.assertEnd();
  return sel;
}

export function writePcrSelection(w: TpmWriter, selection: readonly PcrSelection[]): void {
  w.u32(selection.length);
  for (const s of selection) {
    const maxPcr = s.pcrs.reduce((m, p) => Math.max(m, p), -1);
    const size = s.sizeofSelect ?? Math.max(3, Math.ceil((maxPcr + 1) / 8));
    if (maxPcr >= size * 8) {
      throw new AttestError("PCR_SELECTION", `PCR ${maxPcr} does not fit a ${size}-byte select`);
    }
    const bitmap = Buffer.alloc(size);
    for (const p of s.pcrs) bitmap[p >> 3]! |= 1 << (p & 7);
    w.u16(s.hashAlg).u8(size).bytes(bitmap);
  }
}

export function encodePcrSelection(selection: readonly PcrSelection[]): Buffer {
  const w = new TpmWriter();
  writePcrSelection(w, selection);
  return w.toBuffer();
}

/**
 * Parses tpm2-tools' selection syntax: `sha256:0,1,7+sha1:0-3`. Banks keep their order
 * (it fixes the PCR digest order); indices are sorted and de-duplicated.
 */
export function parseSelectionSpec(spec: string): PcrSelection[] {
  const out: PcrSelection[] = [];
  const seen = new Set<number>();
  for (const part of spec.split("+")) {
    const m = /^([a-z0-9_]+):([0-9,\- ]+|all)$/i.exec(part.trim());
    if (!m) throw new AttestError("PCR_SELECTION", `bad PCR selection "${part}"`, { metaMessages: ["expected e.g. sha256:0,1,7+sha1:0-3"] });
    let hashAlg: number;
    try {
      hashAlg = hashAlgByName(m[1]!);
    } catch {
      throw new AttestError("PCR_SELECTION", `unknown PCR bank "${m[1]}"`);
    }
    if (seen.has(hashAlg)) throw new AttestError("PCR_SELECTION", `bank ${m[1]} listed twice`);
    seen.add(hashAlg);
    const pcrs = new Set<number>();
    if (m[2]!.toLowerCase() === "all") for (let i = 0; i < 24; i++) pcrs.add(i);
    else {
      for (const item of m[2]!.split(",")) {
        const range = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(item);
        if (!range) throw new AttestError("PCR_SELECTION", `bad PCR index "${item}"`);
        const lo = Number(range[1]);
        const hi = range[2] === undefined ? lo : Number(range[2]);
        if (lo > hi || hi > 31) throw new AttestError("PCR_SELECTION", `bad PCR range "${item}"`);
        for (let i = lo; i <= hi; i++) pcrs.add(i);
      }
    }
    out.push({ hashAlg, pcrs: [...pcrs].sort((a, b) => a - b) });
  }
  return out;
}

/** tpm2-tools syntax of a selection, e.g. `sha1:0,1+sha256:7`. */
export function formatSelection(selection: readonly PcrSelection[]): string {
  return selection.map((s) => `${hashInfo(s.hashAlg).name}:${s.pcrs.join(",")}`).join("+");
}

/** True when both select the same PCRs of the same banks in the same bank order. */
export function sameSelection(a: readonly PcrSelection[], b: readonly PcrSelection[]): boolean {
  const nonEmptyA = a.filter((s) => s.pcrs.length > 0);
  const nonEmptyB = b.filter((s) => s.pcrs.length > 0);
  return (
    nonEmptyA.length === nonEmptyB.length &&
    nonEmptyA.every((s, i) => {
      const t = nonEmptyB[i]!;
      return s.hashAlg === t.hashAlg && s.pcrs.length === t.pcrs.length && s.pcrs.every((p, j) => p === t.pcrs[j]);
    })
  );
}

/**
 * Splits a `tpm2_pcrread -o` file into values. The file has no header, so the selection
 * used to read it is needed; a size that does not match exactly is rejected.
 */
export function parsePcrReadOutput(buf: Uint8Array, selection: readonly PcrSelection[]): PcrBanks {
  let expected = 0;
  for (const s of selection) expected += hashInfo(s.hashAlg).size * s.pcrs.length;
  if (buf.length !== expected) {
    throw new AttestError("PCR_SELECTION", `PCR file is ${buf.length} bytes, selection ${formatSelection(selection)} needs ${expected}`);
  }
  const r = new TpmReader(buf, { what: "PCR values", code: "PCR_SELECTION" });
  const banks: PcrBanks = new Map();
  for (const s of selection) {
    const size = hashInfo(s.hashAlg).size;
    const bank = banks.get(s.hashAlg) ?? new Map<number, Buffer>();
    for (const p of s.pcrs) bank.set(p, r.bytes(size, "PCR value"));
    banks.set(s.hashAlg, bank);
  }
  r.assertEnd();
  return banks;
}

/** Inverse of parsePcrReadOutput. */
export function encodePcrReadOutput(selection: readonly PcrSelection[], values: PcrBanks): Buffer {
  return Buffer.concat(selectedValues(selection, values));
}

function selectedValues(selection: readonly PcrSelection[], values: PcrBanks): Buffer[] {
  const parts: Buffer[] = [];
  for (const s of selection) {
    const h = hashInfo(s.hashAlg);
    for (const p of s.pcrs) {
      const v = values.get(s.hashAlg)?.get(p);
      if (!v) throw new AttestError("PCR_MISSING", `no value for PCR ${h.name}:${p}`);
      if (v.length !== h.size) throw new AttestError("PCR_MISSING", `PCR ${h.name}:${p} is ${v.length} bytes, expected ${h.size}`);
      parts.push(v);
    }
  }
  return parts;
}

/** The quote's pcrDigest: `hashAlg` over the selected values in selection order. */
export function pcrDigest(selection: readonly PcrSelection[], values: PcrBanks, hashAlg: number): Buffer {
  return hash(hashInfo(hashAlg).node, Buffer.concat(selectedValues(selection, values)), "buffer");
}

/** Plain-object view of PCR values for JSON output: {sha256: {"0": "hex", ...}}. */
export function pcrBanksToJson(values: PcrBanks): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [alg, bank] of values) {
    const name = HASH_ALGS.get(alg)?.name ?? algName(alg);
    out[name] = Object.fromEntries([...bank].sort((a, b) => a[0] - b[0]).map(([i, v]) => [String(i), v.toString("hex")]));
  }
  return out;
}
