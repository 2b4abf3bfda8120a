/** Unusable command-line input. Kept free of node: imports so the web page can share the parsers. */
import { TrustmeshError } from "../core/errors.js";

export class CliInputError extends TrustmeshError {
  override name = "CliInputError";
}
