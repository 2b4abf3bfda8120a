/**
 * EK certificate chain validation against a CA bundle (what a registrar does before it
 * trusts an EK). node:crypto's X509Certificate gives parsing, issuer/subject matching and
 * signature checks; path building is ours: from the leaf, repeatedly find a bundle
 * certificate that issued the current one, until a self-signed anchor is reached.
 *
 * Intermediates may come from the bundle or from `intermediates` (e.g. sent by the node).
 * Only certificates in the bundle are anchors: a chain ending in a node-supplied root fails.
 */
import { X509Certificate, createHash } from "node:crypto";
import { EnrolError } from "./errors.js";

const MAX_DEPTH = 8;

export interface EkChainResult {
  /** The EK certificate. */
  ek: X509Certificate;
  /** Leaf first, anchor last. */
  chain: X509Certificate[];
  /** sha256 of the EK certificate DER, 0x-hex (bytes32 as NodeRegistry stores it). */
  ekCertDigest: `0x${string}`;
}

/** Split a PEM bundle into certificates. */
export function parsePemBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (cause) {
      throw new EnrolError("CERT_PARSE", `certificate ${i} of the CA bundle does not parse`, { cause });
    }
  });
}

/**
 * A DER certificate read from TPM NV may carry padding after the outer SEQUENCE (NV areas
 * are sized up front); cut it to the length the SEQUENCE header declares.
 */
export function trimDer(der: Uint8Array): Buffer {
  const b = Buffer.from(der);
  if (b.length < 4 || b[0] !== 0x30) throw new EnrolError("CERT_PARSE", "EK certificate is not a DER SEQUENCE");
  const first = b[1] as number;
  let len: number;
  let hdr: number;
  if (first < 0x80) {
    len = first;
    hdr = 2;
  } else {
    const n = first & 0x7f;
    if (n < 1 || n > 3 || b.length < 2 + n) throw new EnrolError("CERT_PARSE", "EK certificate has a bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[2 + i] as number);
    hdr = 2 + n;
  }
  if (hdr + len > b.length) throw new EnrolError("CERT_PARSE", "EK certificate is truncated");
  return b.subarray(0, hdr + len);
}

export function loadCertificate(input: Uint8Array | string): X509Certificate {
  try {
    return new X509Certificate(typeof input === "string" ? input : trimDer(input));
  } catch (cause) {
    if (cause instanceof EnrolError) throw cause;
    throw new EnrolError("CERT_PARSE", "certificate does not parse", { cause });
  }
}

function checkValidity(c: X509Certificate, now: Date): void {
  if (now < new Date(c.validFrom) || now > new Date(c.validTo)) {
    throw new EnrolError("EK_CERT_EXPIRED", `certificate "${c.subject}" is not valid at ${now.toISOString()}`, {
      metaMessages: [`valid from ${c.validFrom} to ${c.validTo}`],
    });
  }
}

const isSelfSigned = (c: X509Certificate): boolean => c.checkIssued(c) && c.verify(c.publicKey);

export interface ValidateEkOptions {
  /** Trust anchors and intermediates the registrar trusts. */
  caBundle: readonly X509Certificate[];
  /** Extra intermediates (untrusted on their own). */
  intermediates?: readonly X509Certificate[];
  now?: Date;
}

export function validateEkCertificate(ekInput: Uint8Array | string, opts: ValidateEkOptions): EkChainResult {
  const ek = loadCertificate(ekInput);
  const now = opts.now ?? new Date();
  const trusted = new Set(opts.caBundle.map((c) => c.fingerprint256));
  const pool = [...opts.caBundle, ...(opts.intermediates ?? [])];
  if (ek.ca) throw new EnrolError("EK_KEY_UNSUPPORTED", "EK certificate is a CA certificate");
  checkValidity(ek, now);

  const chain: X509Certificate[] = [ek];
  let cur = ek;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (trusted.has(cur.fingerprint256) && isSelfSigned(cur)) {
      return { ek, chain, ekCertDigest: ekCertDigest(ek) };
    }
    const issuer = pool.find((c) => c.ca && cur.checkIssued(c) && cur.verify(c.publicKey) && c.fingerprint256 !== cur.fingerprint256);
    if (!issuer) {
      // A trusted intermediate without its root in the bundle is still an anchor the operator chose.
      if (trusted.has(cur.fingerprint256) && cur !== ek) return { ek, chain, ekCertDigest: ekCertDigest(ek) };
      throw new EnrolError("EK_CHAIN_UNTRUSTED", `no trusted issuer for "${cur.subject}"`, {
        metaMessages: [`issuer named: ${cur.issuer}`, `chain so far: ${chain.map((c) => c.subject).join(" <- ")}`],
      });
    }
    checkValidity(issuer, now);
    chain.push(issuer);
    cur = issuer;
  }
  throw new EnrolError("EK_CHAIN_UNTRUSTED", `EK chain longer than ${MAX_DEPTH}`);
}

/** sha256 over the EK certificate DER, as NodeRegistry stores it (bytes32). */
export function ekCertDigest(ek: X509Certificate): `0x${string}` {
  return `0x${createHash("sha256").update(ek.raw).digest("hex")}`;
}
