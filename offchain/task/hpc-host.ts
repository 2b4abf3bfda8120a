/**
 * The two places a task can run (executor.ts `TaskHost`):
 * - `hpcTaskHost`: the node's HPC, over the attested agent bridge. The gateway relays
 *   sealed inputs, the sealed key grant and the public function; the HPC returns the sealed
 *   result. This is what a gateway daemon and the devnet use.
 * - `inProcessTaskHost`: the agent's own TaskRunner in this process, for unit tests of the
 *   executor (same code as on the HPC, no bridge).
 */
import type { AgentClient } from "../attest/bridge/client.js";
import { isTrustmeshError } from "../core/errors.js";
import type { SandboxResult, SandboxRunParameters } from "../core/sandbox-types.js";
import { TaskRunner } from "../../firmware/agent/tasks.js";
import { wipeScratch } from "../../firmware/agent/scratch.js";
import { AgentError } from "../../firmware/agent/errors.js";
import { TaskError, TaskRunError, type TaskErrorCode } from "./errors.js";
import type { TaskHost } from "./executor.js";

const AGENT_TASK_CODES: ReadonlySet<string> = new Set<TaskErrorCode>(["TASK_NO_KEY", "TASK_INPUT", "TASK_RESULT"]);

/**
 * The agent's failure as the executor's typed error (the sandbox's reason kept for
 * TASK_RUN): over the bridge an error reply, whose `details` is the agent's code; in
 * process the agent's own AgentError.
 */
function fromAgent(e: unknown): TaskError {
  if (e instanceof TaskError) return e;
  const code = e instanceof AgentError ? e.code : isTrustmeshError(e) ? (e as { details?: unknown }).details : undefined;
  const message = isTrustmeshError(e) ? e.shortMessage : String((e as Error)?.message ?? e);
  if (code === "TASK_RUN") return new TaskRunError(String((e as { reason?: unknown }).reason ?? "CRASH"), message);
  if (typeof code === "string" && AGENT_TASK_CODES.has(code)) return new TaskError(code as TaskErrorCode, message, { cause: e });
  return new TaskError("TASK_EXECUTOR", `the HPC did not run the task: ${message}`, { cause: e });
}

/**
 * Runs tasks on the HPC behind `connect` (an AgentClient to this node's agent). The
 * connection is opened on first use and again after it closed (an HPC reboot).
 */
export function hpcTaskHost(connect: () => Promise<AgentClient>): TaskHost & { close(): void } {
  let client: Promise<AgentClient> | undefined;
  const agent = async (): Promise<AgentClient> => {
    const c = client ? await client.catch(() => undefined) : undefined;
    if (c && !c.channel.isClosed) return c;
    client = connect();
    return client;
  };
  return {
    async prepare(taskId) {
      try {
        return await (await agent()).prepareTask(taskId);
      } catch (e) {
        throw fromAgent(e);
      }
    },
    async run(req) {
      try {
        const r = await (await agent()).runTask(req);
        return { capsule: Buffer.from(r.capsule, "base64"), commitment: Buffer.from(r.commitment, "hex"), runMs: r.runMs, scratch: r.scratch };
      } catch (e) {
        throw fromAgent(e);
      }
    },
    async wipe() {
      const r = await (await agent()).wipeScratch();
      return { before: r.before, after: r.after };
    },
    close() {
      void client?.then((c) => c.close()).catch(() => undefined);
      client = undefined;
    },
  };
}

/** The agent's TaskRunner in this process (tests): same checks, same sandbox, same errors, no bridge. */
export function inProcessTaskHost(o: { scratchDir: string; sandbox: (p: SandboxRunParameters) => Promise<SandboxResult<unknown>> }): TaskHost {
  const runner = new TaskRunner(o);
  return {
    prepare: async (taskId) => runner.prepare(taskId),
    run: (req) => runner.run(req).catch((e: unknown) => Promise.reject(fromAgent(e))),
    wipe: () => wipeScratch(o.scratchDir),
  };
}
