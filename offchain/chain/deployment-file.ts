/**
 * The deployment file: which contract lives where on which chain. Written by the demo
 * and by deploy scripts, read by the CLI (`--deployment FILE`) and served to the web
 * dashboard as /config.json. Format (JSON):
 *
 *   {
 *     "format": "trustmesh-deployment/1",
 *     "chainId": 31337,
 *     "startBlock": 0,               // block of the first deployment tx; log scans start here
 *     "contracts": {
 *       "TrustToken": "0x…", "NodeRegistry": "0x…", "Reputation": "0x…",
 *       "TrustBoard": "0x…", "ScoringPolicy": "0x…", "ImageRegistry": "0x…",
 *       "Disputes": "0x…", "EpochClock": "0x…", "Timelock": "0x…", "VRFVerifier": "0x…",  // optional
 *       "TaskMarket": "0x…"                                                                // optional
 *     }
 *   }
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { getAddress, isAddress, type Address } from "viem";
import { TrustmeshError } from "../core/errors.js";

export const DEPLOYMENT_FORMAT = "trustmesh-deployment/1";

export const REQUIRED_CONTRACTS = ["TrustToken", "NodeRegistry", "Reputation", "TrustBoard", "ScoringPolicy"] as const;
export const OPTIONAL_CONTRACTS = ["ImageRegistry", "Disputes", "EpochClock", "Timelock", "VRFVerifier", "TaskMarket"] as const;
export type RequiredContract = (typeof REQUIRED_CONTRACTS)[number];
export type OptionalContract = (typeof OPTIONAL_CONTRACTS)[number];

export interface DeploymentFile {
  format: typeof DEPLOYMENT_FORMAT;
  chainId: number;
  startBlock: number;
  contracts: Record<RequiredContract, Address> & Partial<Record<OptionalContract, Address>>;
}

export class DeploymentFileError extends TrustmeshError {
  override name = "DeploymentFileError";
}

/** Validates parsed JSON as a deployment file; addresses come back checksummed. */
export function parseDeployment(json: unknown, where = "deployment"): DeploymentFile {
  const bad = (msg: string) => new DeploymentFileError("DEPLOYMENT_BAD_FORMAT", `${where}: ${msg}`, {
    metaMessages: [`Expected {"format":"${DEPLOYMENT_FORMAT}","chainId":N,"startBlock":N,"contracts":{...}}`],
  });
  if (typeof json !== "object" || json === null) throw bad("not a JSON object");
  const o = json as Record<string, unknown>;
  if (o.format !== DEPLOYMENT_FORMAT) throw bad(`format must be "${DEPLOYMENT_FORMAT}"`);
  if (typeof o.chainId !== "number" || !Number.isSafeInteger(o.chainId) || o.chainId <= 0) throw bad("chainId must be a positive integer");
  const startBlock = o.startBlock ?? 0;
  if (typeof startBlock !== "number" || !Number.isSafeInteger(startBlock) || startBlock < 0) throw bad("startBlock must be a non-negative integer");
  const c = o.contracts;
  if (typeof c !== "object" || c === null) throw bad("contracts missing");
  const raw = c as Record<string, unknown>;
  const contracts: Record<string, Address> = {};
  for (const name of [...REQUIRED_CONTRACTS, ...OPTIONAL_CONTRACTS]) {
    const v = raw[name];
    if (v === undefined && (OPTIONAL_CONTRACTS as readonly string[]).includes(name)) continue;
    if (typeof v !== "string" || !isAddress(v, { strict: false })) throw bad(`contracts.${name} is not an address`);
    contracts[name] = getAddress(v);
  }
  return { format: DEPLOYMENT_FORMAT, chainId: o.chainId, startBlock, contracts: contracts as DeploymentFile["contracts"] };
}

export async function readDeploymentFile(path: string): Promise<DeploymentFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new DeploymentFileError("DEPLOYMENT_IO", `cannot read deployment file ${path}`, { cause });
  }
  try {
    return parseDeployment(JSON.parse(text), path);
  } catch (e) {
    if (e instanceof DeploymentFileError) throw e;
    throw new DeploymentFileError("DEPLOYMENT_BAD_FORMAT", `${path} is not valid JSON`, { cause: e });
  }
}

/** Atomic write (temp + rename) so a reader never sees half a file. */
export async function writeDeploymentFile(path: string, deployment: DeploymentFile): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(deployment, null, 2)}\n`);
  await rename(tmp, path);
}

/** The deployment file for what `deployTrustMesh` (offchain/chain/deploy.ts) returned. */
export function deploymentFileOf(r: { chainId: number; startBlock: bigint; contracts: object }): DeploymentFile {
  return parseDeployment({ format: DEPLOYMENT_FORMAT, chainId: r.chainId, startBlock: Number(r.startBlock), contracts: r.contracts }, "deployTrustMesh result");
}
