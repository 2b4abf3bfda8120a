/**
 * `trustmesh web`: serves the dashboard (web/dist, built with Vite on first use) on
 * localhost, with /config.json telling the page the RPC URL and the deployment.
 */
import { Option, type Command } from "commander";
import { readDeploymentFile, type DeploymentFile } from "../../chain/deployment-file.js";
import { DEFAULT_DEPLOYMENT, DEFAULT_RPC } from "../chain-options.js";
import { Progress } from "../render.js";
import { ensureWebBuilt, startWebServer } from "../web-server.js";

export function register(program: Command): void {
  program
    .command("web")
    .description("serve the auditor/operator/verifier dashboard on localhost")
    .addOption(new Option("--port <n>", "port (0 = any free port)").default(8080).argParser((v) => Number(v)))
    .addOption(new Option("--rpc <url>", "RPC URL the page reads (changeable in the page and with ?rpc=)").env("TRUSTMESH_RPC_URL").default(DEFAULT_RPC))
    .addOption(new Option("--deployment <file>", "deployment JSON with the contract addresses").env("TRUSTMESH_DEPLOYMENT").default(DEFAULT_DEPLOYMENT))
    .option("--rebuild", "rebuild web/dist even if it exists")
    .action(async (opts: { port: number; rpc: string; deployment: string; rebuild?: boolean }) => {
      const progress = new Progress(false);
      if (opts.rebuild) {
        const { rm } = await import("node:fs/promises");
        const { WEB_DIST } = await import("../web-server.js");
        await rm(WEB_DIST, { recursive: true, force: true });
      }
      const root = await ensureWebBuilt((s) => progress.step(s));
      // Re-read the deployment per request: the demo may (re)deploy while the page is open.
      const config = async () => {
        let deployment: DeploymentFile | null = null;
        try {
          deployment = await readDeploymentFile(opts.deployment);
        } catch {
          deployment = null;
        }
        return { rpc: opts.rpc, deployment };
      };
      const { url, server } = await startWebServer({ port: opts.port, root, config });
      progress.done(`dashboard at ${url} (rpc ${opts.rpc}, deployment ${opts.deployment}); Ctrl-C to stop`);
      process.stdout.write(`${url}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => server.close(() => resolve());
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
