/** Replica configuration with defaults applied and checked. */
import { faultTolerance, quorumSize } from "./quorum.js";
import { PbftError, type ReplicaConfig, type Vote } from "./types.js";

export interface ResolvedConfig extends Required<Omit<ReplicaConfig, "validateRequest">> {
  validateRequest: (vote: Vote) => boolean;
  n: number;
  f: number;
  quorum: number;
}

export function resolveConfig(config: ReplicaConfig): ResolvedConfig {
  const n = config.members.length;
  if (n < 1 || !Number.isInteger(config.id) || config.id < 0 || config.id >= n) {
    throw new PbftError("PBFT_CONFIG", `replica id ${config.id} is not an index of ${n} members`);
  }
  const checkpointInterval = config.checkpointInterval ?? 16;
  const requestTimeoutMs = config.requestTimeoutMs ?? 500;
  const resolved: ResolvedConfig = {
    ...config,
    checkpointInterval,
    watermarkWindow: config.watermarkWindow ?? 2 * checkpointInterval,
    maxBatch: config.maxBatch ?? 32,
    batchTimeoutMs: config.batchTimeoutMs ?? 2,
    requestTimeoutMs,
    viewChangeTimeoutMs: config.viewChangeTimeoutMs ?? requestTimeoutMs,
    maxViewChangeTimeoutMs: config.maxViewChangeTimeoutMs ?? 30_000,
    validateRequest: config.validateRequest ?? (() => true),
    endorsementCheck: config.endorsementCheck ?? "on-receipt",
    buildCertificates: config.buildCertificates ?? true,
    n,
    f: faultTolerance(n),
    quorum: quorumSize(n),
  };
  if (resolved.checkpointInterval < 1 || resolved.watermarkWindow < resolved.checkpointInterval || resolved.maxBatch < 1) {
    throw new PbftError("PBFT_CONFIG", "checkpointInterval, watermarkWindow >= checkpointInterval and maxBatch must be positive");
  }
  return resolved;
}

