/**
 * Structured logs (pino). Key material never reaches a log line: the known secret-bearing
 * fields are redacted by path, whatever a caller passes.
 */
import { pino, type Logger, type DestinationStream } from "pino";

export const REDACTED_PATHS = [
  "privateKey",
  "*.privateKey",
  "password",
  "*.password",
  "keystorePassword",
  "*.keystorePassword",
  "secret",
  "*.secret",
  "seed",
  "*.seed",
];

export function createLogger(options: { name: string; level?: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.TRUSTMESH_LOG_LEVEL ?? "info",
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      base: { gateway: options.name },
      serializers: { err: pino.stdSerializers.err },
    },
    options.destination,
  );
}

export type { Logger };
