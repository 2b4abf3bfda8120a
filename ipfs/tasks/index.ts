/**
 * The bundled task functions. Like the scoring functions (../scoring), a task function is
 * identified by the CID of its exact source bytes; TaskMarket names that CID.
 */
import { readFile } from "node:fs/promises";

export type BundledTaskFunction = "intersection";

/** UTF-8 bytes of ipfs/tasks/<name>.js, exactly as pinned. */
export async function bundledTaskSource(name: BundledTaskFunction): Promise<Uint8Array> {
  return new Uint8Array(await readFile(new URL(`./${name}.js`, import.meta.url)));
}
