// Builds the dashboard into web/dist. The page imports the shared off-chain modules
// (ABIs, reads, EIP-712 types) straight from offchain/, so the browser and the CLI read
// the chain with the same code.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "./",
  logLevel: "warn",
  // The ABIs come with creation bytecode (offchain/chain/artifacts.ts), hence ~600 kB.
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true, chunkSizeWarningLimit: 1500 },
  server: { fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
});
