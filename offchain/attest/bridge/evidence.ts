/**
 * Evidence as it travels over the bridge (hex/base64 JSON) turned into the verifier's
 * inputs: the parsed PCR values by bank id, the selection in the verifier's form, raw bytes.
 */
import { hashAlgByName } from "../tpm/constants.js";
import { parsePcrReadOutput, type PcrBanks, type PcrSelection } from "../tpm/pcrs.js";
import type { Evidence } from "./client.js";
import type { SelectionJson } from "./messages.js";

export interface VerifierInput {
  quote: Buffer;
  signature: Buffer;
  pcrs: PcrBanks;
  selection: PcrSelection[];
  eventLog?: Buffer;
}

export function toPcrSelection(sel: SelectionJson): PcrSelection[] {
  return sel.map((s) => ({ hashAlg: hashAlgByName(s.bank), pcrs: [...s.pcrs].sort((a, b) => a - b) }));
}

export function evidenceToVerifierInput(ev: Evidence): VerifierInput {
  const selection = toPcrSelection(ev.selection);
  return {
    quote: Buffer.from(ev.quote, "hex"),
    signature: Buffer.from(ev.signature, "hex"),
    pcrs: parsePcrReadOutput(Buffer.from(ev.pcrs, "hex"), selection),
    selection,
    eventLog: ev.eventLog === undefined ? undefined : Buffer.from(ev.eventLog, "base64"),
  };
}
