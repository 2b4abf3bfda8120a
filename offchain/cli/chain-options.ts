/**
 * Options shared by every command that talks to a chain (--rpc, --chain-id, --deployment,
 * --json) or signs (--keystore, --password-file, --key-env, --remote-signer), and their
 * resolution into a checked connection, a deployment and a Signer.
 */
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { Option, type Command } from "commander";
import type { Address } from "viem";
import { TrustmeshError } from "../core/errors.js";
import { CliInputError } from "./input-error.js";
import { connect, type ChainConnection } from "../chain/client.js";
import { readDeploymentFile, type DeploymentFile } from "../chain/deployment-file.js";
import { DEFAULT_KEY_ENV, loadSigner, type Signer, type SignerSource } from "../chain/signers.js";

export const DEFAULT_RPC = "http://127.0.0.1:8545";
export const DEFAULT_DEPLOYMENT = ".state/deployment.json";
export const PASSWORD_ENV = "TRUSTMESH_KEYSTORE_PASSWORD";

export { CliInputError };

export interface ChainOpts {
  rpc: string;
  chainId?: number;
  deployment: string;
  json?: boolean;
}

export interface SignerOpts {
  keystore?: string;
  passwordFile?: string;
  keyEnv?: string;
  remoteSigner?: string;
  from?: Address;
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new CliInputError("CLI_BAD_INT", `${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

/** --rpc, --chain-id, --deployment, --json. */
export function withChainOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--rpc <url>", "Ethereum JSON-RPC URL").env("TRUSTMESH_RPC_URL").default(DEFAULT_RPC))
    .addOption(new Option("--chain-id <n>", "refuse to run unless the RPC is this chain").argParser(positiveInt("--chain-id")))
    .addOption(new Option("--deployment <file>", "deployment JSON (contract addresses)").env("TRUSTMESH_DEPLOYMENT").default(DEFAULT_DEPLOYMENT))
    .option("--json", "machine-readable JSON on stdout (no progress output)");
}

/** --keystore | --key-env | --remote-signer (exactly one; default: $TRUSTMESH_PRIVATE_KEY). */
export function withSignerOptions(cmd: Command): Command {
  return cmd
    .option("--keystore <file>", "Web3 Secret Storage v3 keystore (password: --password-file, $TRUSTMESH_KEYSTORE_PASSWORD or prompt)")
    .option("--password-file <file>", "file whose first line is the keystore password")
    .option("--key-env <var>", `environment variable holding a hex private key (default ${DEFAULT_KEY_ENV})`)
    .option("--remote-signer <url>", "EIP-1193 JSON-RPC signer (hardware bridge, Frame, dev node)")
    .option("--from <address>", "account to use on the remote signer");
}

export interface ChainContext {
  conn: ChainConnection;
  deployment: DeploymentFile;
}

/** Reads the deployment file, connects, and checks the chain id against --chain-id and the file. */
export async function resolveChain(opts: ChainOpts): Promise<ChainContext> {
  const deployment = await readDeploymentFile(opts.deployment);
  if (opts.chainId !== undefined && opts.chainId !== deployment.chainId) {
    throw new TrustmeshError("CHAIN_WRONG_ID", `wrong chain: --chain-id ${opts.chainId} but ${opts.deployment} is for chain ${deployment.chainId}`, {
      metaMessages: ["Nothing was signed or sent."],
    });
  }
  const expected = opts.chainId ?? deployment.chainId;
  const conn = await connect({ rpcUrl: opts.rpc, expectedChainId: expected, expectedFrom: opts.chainId !== undefined ? "--chain-id" : opts.deployment });
  return { conn, deployment };
}

async function promptHidden(question: string): Promise<string> {
  // A muted output stream: readline echoes nothing while the password is typed.
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  process.stderr.write(question);
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question("", resolve));
  } finally {
    rl.close();
    process.stderr.write("\n");
  }
}

/** The keystore password from --password-file, the environment, or a hidden prompt. */
export async function readPassword(passwordFile: string | undefined, confirm = false): Promise<string> {
  if (passwordFile) {
    try {
      return (await readFile(passwordFile, "utf8")).split(/\r?\n/)[0] ?? "";
    } catch (cause) {
      throw new CliInputError("CLI_PASSWORD_FILE", `cannot read password file ${passwordFile}`, { cause });
    }
  }
  const env = process.env[PASSWORD_ENV];
  if (env !== undefined) return env;
  if (!process.stdin.isTTY) {
    throw new CliInputError("CLI_NO_PASSWORD", "no keystore password", {
      metaMessages: [`Give --password-file FILE or set ${PASSWORD_ENV}; no terminal to prompt on.`],
    });
  }
  const pw = await promptHidden("Keystore password: ");
  if (confirm && (await promptHidden("Repeat password: ")) !== pw) {
    throw new CliInputError("CLI_PASSWORD_MISMATCH", "the two passwords differ");
  }
  return pw;
}

/** Turns the signer flags into one SignerSource; two sources at once is an input error. */
export async function signerSourceFrom(opts: SignerOpts): Promise<SignerSource> {
  const given = [opts.keystore && "--keystore", opts.keyEnv && "--key-env", opts.remoteSigner && "--remote-signer"].filter(Boolean);
  if (given.length > 1) throw new CliInputError("CLI_SIGNER_CONFLICT", `choose one key source, got ${given.join(" and ")}`);
  if (opts.keystore) return { kind: "keystore", path: opts.keystore, password: await readPassword(opts.passwordFile) };
  if (opts.remoteSigner) return { kind: "remote", url: opts.remoteSigner, ...(opts.from ? { address: opts.from } : {}) };
  return { kind: "env", variable: opts.keyEnv ?? DEFAULT_KEY_ENV };
}

export async function resolveSigner(opts: SignerOpts): Promise<Signer> {
  return loadSigner(await signerSourceFrom(opts));
}

/** Parses a non-negative integer argument into a bigint (node ids, rounds, amounts in wei). */
export function bigintArg(name: string) {
  return (v: string): bigint => {
    if (!/^\d+$/.test(v)) throw new CliInputError("CLI_BAD_INT", `${name} must be a non-negative integer, got "${v}"`);
    return BigInt(v);
  };
}
