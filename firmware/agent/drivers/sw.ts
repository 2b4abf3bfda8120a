/**
 * The `sw` driver, for development without any TPM: PCR banks in memory and a software
 * ECDSA P-256 key that emits the same TPMS_ATTEST / TPMT_SIGNATURE / TPM2B_PUBLIC bytes a
 * TPM would, so the same verifier code runs. It is ALWAYS tier "software": its AK public
 * area leaves fixedTPM/fixedParent clear (the registrar's AK check refuses it) and it has
 * no credential activator, so it can never be enrolled as a TPM.
 */
import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TpmWriter } from "../../../offchain/attest/tpm/writer.js";
import { encodePcrSelection } from "../../../offchain/attest/tpm/pcrs.js";
import { AgentError } from "../errors.js";
import {
  BANK_ALG_IDS,
  BANK_SIZES,
  splitPcrDump,
  type AgentDriver,
  type BankName,
  type ClockInfo,
  type PcrSelection,
  type PcrValues,
  type QuoteResult,
} from "./types.js";

const TPM_GENERATED = 0xff544347;
const ST_ATTEST_QUOTE = 0x8018;
const ALG_ECC = 0x0023;
const ALG_SHA256 = 0x000b;
const ALG_NULL = 0x0010;
const ALG_ECDSA = 0x0018;
const CURVE_P256 = 0x0003;
// sensitiveDataOrigin | userWithAuth | restricted | sign; fixedTPM and fixedParent deliberately clear.
const SW_AK_ATTRIBUTES = (1 << 5) | (1 << 6) | (1 << 16) | (1 << 18);
const PCR_COUNT = 24;

export interface SwDriverOptions {
  /** Holds the key (PEM) and the reset counter; persists across agent restarts. */
  stateDir: string;
  banks?: readonly BankName[];
}

function b64urlToBuf(s: string | undefined): Buffer {
  if (!s) throw new AgentError("AGENT_STATE", "software key lacks a coordinate");
  return Buffer.from(s, "base64url");
}

export class SwDriver implements AgentDriver {
  readonly driver = "sw";
  readonly tier = "software" as const;
  private readonly bankList: readonly BankName[];
  private readonly pcrs = new Map<BankName, Buffer[]>();
  private key: KeyObject | undefined;
  private pub: Buffer | undefined;
  private name: Buffer | undefined;
  private resetCount = 0;
  private readonly bootedAt = Date.now();
  private clockBase = 0n;

  constructor(private readonly opts: SwDriverOptions) {
    this.bankList = opts.banks ?? ["sha1", "sha256"];
    for (const b of this.bankList) this.pcrs.set(b, Array.from({ length: PCR_COUNT }, () => Buffer.alloc(BANK_SIZES[b])));
  }

  async init(): Promise<void> {
    await mkdir(this.opts.stateDir, { recursive: true });
    const keyPath = join(this.opts.stateDir, "sw-ak.pem");
    const countPath = join(this.opts.stateDir, "sw-counters.json");
    try {
      this.key = createPrivateKey(await readFile(keyPath, "utf8"));
    } catch {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      this.key = privateKey;
      await writeFile(keyPath, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
    }
    // Each init is a "boot": the reset counter persists and goes up, like a TPM's.
    let prev = { resetCount: -1, clock: "0" };
    try {
      prev = JSON.parse(await readFile(countPath, "utf8")) as typeof prev;
    } catch {
      // first boot
    }
    this.resetCount = prev.resetCount + 1;
    this.clockBase = BigInt(prev.clock);
    await writeFile(countPath, JSON.stringify({ resetCount: this.resetCount, clock: this.clockBase.toString() }));
    const jwk = this.key.export({ format: "jwk" });
    const tpmt = new TpmWriter()
      .u16(ALG_ECC).u16(ALG_SHA256).u32(SW_AK_ATTRIBUTES).u16(0)
      .u16(ALG_NULL).u16(ALG_ECDSA).u16(ALG_SHA256).u16(CURVE_P256).u16(ALG_NULL)
      .tpm2b(b64urlToBuf(jwk.x)).tpm2b(b64urlToBuf(jwk.y))
      .toBuffer();
    this.pub = new TpmWriter().tpm2b(tpmt).toBuffer();
    this.name = Buffer.concat([Buffer.from([0x00, 0x0b]), createHash("sha256").update(tpmt).digest()]);
  }

  async akPublic(): Promise<Buffer> {
    if (!this.pub) throw new AgentError("AGENT_STATE", "software driver not initialised");
    return this.pub;
  }

  async banks(): Promise<readonly BankName[]> {
    return this.bankList;
  }

  private bank(b: BankName): Buffer[] {
    const v = this.pcrs.get(b);
    if (!v) throw new AgentError("BAD_REQUEST", `PCR bank ${b} is not active`);
    return v;
  }

  async extend(pcr: number, digests: Partial<Record<BankName, Buffer>>): Promise<void> {
    if (!Number.isInteger(pcr) || pcr < 0 || pcr >= PCR_COUNT) throw new AgentError("BAD_REQUEST", `PCR ${pcr} out of range`);
    for (const [b, d] of Object.entries(digests) as [BankName, Buffer][]) {
      if (d.length !== BANK_SIZES[b]) throw new AgentError("BAD_REQUEST", `${b} digest must be ${BANK_SIZES[b]} bytes`);
      const values = this.bank(b);
      values[pcr] = createHash(b).update(values[pcr] as Buffer).update(d).digest();
    }
  }

  async readPcrs(selection: PcrSelection): Promise<{ raw: Buffer; values: PcrValues }> {
    const parts: Buffer[] = [];
    for (const s of selection) {
      const values = this.bank(s.bank);
      for (const i of [...s.pcrs].sort((a, b) => a - b)) {
        const v = values[i];
        if (!v) throw new AgentError("BAD_REQUEST", `PCR ${i} out of range`);
        parts.push(v);
      }
    }
    const raw = Buffer.concat(parts);
    return { raw, values: splitPcrDump(selection, raw) };
  }

  async clock(): Promise<ClockInfo> {
    return { clock: this.clockBase + BigInt(Date.now() - this.bootedAt), resetCount: this.resetCount, restartCount: 0, safe: true };
  }

  async quote(selection: PcrSelection, nonce: Buffer): Promise<QuoteResult> {
    if (!this.key || !this.name) throw new AgentError("AGENT_STATE", "software driver not initialised");
    if (nonce.length > 64) throw new AgentError("BAD_REQUEST", `nonce is ${nonce.length} bytes; at most 64`);
    const { raw, values } = await this.readPcrs(selection);
    const clock = await this.clock();
    const sel = encodePcrSelection(selection.map((s) => ({ hashAlg: BANK_ALG_IDS[s.bank], pcrs: [...s.pcrs].sort((a, b) => a - b) })));
    const attest = new TpmWriter()
      .u32(TPM_GENERATED).u16(ST_ATTEST_QUOTE)
      .tpm2b(this.name).tpm2b(nonce)
      .u64(clock.clock).u32(clock.resetCount).u32(clock.restartCount).u8(clock.safe ? 1 : 0)
      .u64(0n)
      .bytes(sel)
      .tpm2b(createHash("sha256").update(raw).digest())
      .toBuffer();
    const rs = sign("sha256", attest, { key: this.key, dsaEncoding: "ieee-p1363" });
    const signature = new TpmWriter().u16(ALG_ECDSA).u16(ALG_SHA256).tpm2b(rs.subarray(0, 32)).tpm2b(rs.subarray(32)).toBuffer();
    return { attest, signature, pcrs: raw, pcrValues: values };
  }

  async close(): Promise<void> {
    const countPath = join(this.opts.stateDir, "sw-counters.json");
    const c = await this.clock();
    await writeFile(countPath, JSON.stringify({ resetCount: this.resetCount, clock: c.clock.toString() }));
  }
}
