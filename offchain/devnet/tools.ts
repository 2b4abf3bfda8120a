/**
 * The host tools the one-machine network needs for its HPCs (swtpm as the TPM, tpm2-tools
 * for quotes). The demos refuse to start and the swtpm suites fail with the install
 * command when one is missing.
 */
import { execFileSync } from "node:child_process";

export const TPM_TOOLS = ["swtpm", "swtpm_setup", "tpm2_quote"] as const;
export const TPM_INSTALL_COMMAND = "sudo apt-get install -y swtpm swtpm-tools tpm2-tools";

/** The first of TPM_TOOLS not on the PATH, or undefined when all are there. */
export function missingTpmTool(): string | undefined {
  for (const tool of TPM_TOOLS) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return tool;
    }
  }
  return undefined;
}
