/**
 * ECVRF commands (secp256k1, suite 0xFE, witnet-compatible):
 *   vrf keygen [--out F]                      new secret key; F gets its hex (mode 0600)
 *   vrf prove --key F --message HEX           81-byte proof of HEX under the key in F
 *   vrf verify --public-key HEX --message HEX --proof HEX
 * Key file: the 32-byte secret key as 64 hex digits (optional 0x, surrounding whitespace
 * ignored), i.e. what `vrf keygen --out` writes. Public keys: SEC1 compressed (33 B) or
 * uncompressed (65 B) hex. verify prints the 32-byte output and exits 0 when valid, 1 when
 * the proof is invalid, 2 when the input is unusable (bad hex, wrong lengths, off-curve).
 */
import type { Command } from "commander";
import { readFile, writeFile } from "node:fs/promises";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  bytesToHex,
  computeFastVerifyParams,
  derivePublicKey,
  hexToBytes,
  prove,
  proofToHash,
  verify,
  VrfError,
} from "../../core/vrf/index.js";
import { CliExit } from "../exit.js";
import { CliInputError } from "../input-error.js";
import { printJson } from "../render.js";

async function readSecretKey(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new CliInputError("VRF_KEY_FILE", `cannot read key file ${path}`, { cause: e });
  }
  const key = hexToBytes(text, "key file");
  if (key.length !== 32) {
    throw new VrfError("VRF_SECRET_KEY", `key file must hold a 32-byte secret key (64 hex digits), got ${key.length} bytes`);
  }
  return key;
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function register(program: Command): void {
  const vrf = program.command("vrf").description("ECVRF over secp256k1 (suite 0xFE, witnet vrf-solidity compatible)");

  vrf
    .command("keygen")
    .description("generate a VRF secret key; prints the public key")
    .option("--out <file>", "write the secret key (hex) to this new file, mode 0600; refuses to overwrite")
    .option("--json", "print JSON")
    .action(async (opts: { out?: string; json?: boolean }) => {
      const secret = secp256k1.utils.randomSecretKey();
      if (opts.out) {
        try {
          await writeFile(opts.out, `${bytesToHex(secret, false)}\n`, { mode: 0o600, flag: "wx" });
        } catch (e) {
          throw new CliInputError("VRF_KEY_FILE", `cannot create key file ${opts.out} (it must not exist yet)`, { cause: e });
        }
      }
      const result = {
        publicKey: bytesToHex(derivePublicKey(secret, true)),
        publicKeyUncompressed: bytesToHex(derivePublicKey(secret, false)),
        // Without --out the secret has nowhere else to go: print it.
        ...(opts.out ? { keyFile: opts.out } : { secretKey: bytesToHex(secret) }),
      };
      if (opts.json) return printJson(result);
      out(`public key:   ${result.publicKey}`);
      if ("keyFile" in result) out(`secret key written to ${result.keyFile}`);
      else out(`secret key:   ${result.secretKey}`);
    });

  vrf
    .command("prove")
    .description("prove a message; prints the 81-byte proof")
    .requiredOption("--key <file>", "file holding the secret key as hex")
    .requiredOption("--message <hex>", "message (alpha) as hex")
    .option("--json", "print JSON (proof, output, public key, fastVerify helper points)")
    .action(async (opts: { key: string; message: string; json?: boolean }) => {
      const secret = await readSecretKey(opts.key);
      const message = hexToBytes(opts.message, "message");
      const proof = prove(secret, message);
      if (!opts.json) return out(bytesToHex(proof));
      const publicKey = derivePublicKey(secret);
      const fast = computeFastVerifyParams(publicKey, proof, message);
      printJson({
        proof: bytesToHex(proof),
        output: bytesToHex(proofToHash(proof)),
        publicKey: bytesToHex(publicKey),
        message: bytesToHex(message),
        fastVerify: { uPoint: fast.uPoint, vComponents: fast.vComponents },
      });
    });

  vrf
    .command("verify")
    .description("verify a proof; prints the 32-byte output (exit 0 valid, 1 invalid, 2 unusable input)")
    .requiredOption("--public-key <hex>", "SEC1 public key, compressed (33 B) or uncompressed (65 B)")
    .requiredOption("--message <hex>", "message (alpha) as hex")
    .requiredOption("--proof <hex>", "81-byte proof: compressed Gamma || c (16 B) || s (32 B)")
    .option("--json", "print JSON")
    .action((opts: { publicKey: string; message: string; proof: string; json?: boolean }) => {
      const publicKey = hexToBytes(opts.publicKey, "public key");
      const message = hexToBytes(opts.message, "message");
      const proof = hexToBytes(opts.proof, "proof");
      const r = verify(publicKey, proof, message);
      if (opts.json) printJson(r.valid ? { valid: true, output: bytesToHex(r.beta) } : { valid: false });
      else if (r.valid) out(bytesToHex(r.beta));
      else process.stderr.write("invalid proof\n");
      if (!r.valid) throw new CliExit(1);
    });
}
