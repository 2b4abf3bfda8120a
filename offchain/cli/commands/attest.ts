/**
 * Attestation commands: `verify-quote` (one TPM quote in tpm2-tools formats),
 * `eventlog replay` (TCG binary log -> PCR values) and `policy check` (a whole evidence
 * directory against a golden policy). Exit 0 valid, 1 invalid (findings printed),
 * 2 unusable input (files missing or not parseable).
 */
import type { Command } from "commander";
import { appraise } from "../../attest/appraise.js";
import { loadAkPublic } from "../../attest/ak.js";
import { hasFailure, type Finding } from "../../attest/errors.js";
import { parseEventLog, replayEventLog } from "../../attest/eventlog/parse.js";
import { eventTypeName, type EventLog } from "../../attest/eventlog/types.js";
import { clockToJson, parseClockJson, parseNonceHex, readEvidenceDir, readFileOrFail } from "../../attest/evidence-dir.js";
import { parsePolicyJson, policySchema } from "../../attest/policy/evaluate.js";
import { clockStateOf, verifyQuote } from "../../attest/quote.js";
import { parseTpmsAttest, type TpmsAttestQuote } from "../../attest/tpm/attest.js";
import { algName, HASH_ALGS } from "../../attest/tpm/constants.js";
import { formatSelection, parsePcrReadOutput, parseSelectionSpec, pcrBanksToJson, type PcrBanks } from "../../attest/tpm/pcrs.js";
import { parseTpmtSignature } from "../../attest/tpm/signature.js";
import { CliExit } from "../exit.js";
import { printJson } from "../render.js";

function printFindings(findings: readonly Finding[], hideInfo = false): void {
  for (const f of findings) {
    if (hideInfo && f.severity === "info") continue;
    process.stdout.write(`  [${f.severity}] ${f.code}: ${f.message}\n`);
  }
}

function quoteJson(a: TpmsAttestQuote): Record<string, unknown> {
  return {
    magic: `0x${a.magic.toString(16)}`,
    qualifiedSigner: a.qualifiedSigner.toString("hex"),
    nonce: a.extraData.toString("hex"),
    clock: clockToJson(clockStateOf(a)),
    safe: a.clockInfo.safe,
    selection: formatSelection(a.pcrSelect),
    pcrDigest: a.pcrDigest.toString("hex"),
  };
}

function printPcrs(pcrs: PcrBanks): void {
  for (const [bank, values] of Object.entries(pcrBanksToJson(pcrs))) {
    process.stdout.write(`  ${bank}:\n`);
    for (const [i, v] of Object.entries(values)) process.stdout.write(`    ${i.padStart(2)}: ${v}\n`);
  }
}

function eventLogJson(log: EventLog): Record<string, unknown> {
  const name = (alg: number) => HASH_ALGS.get(alg)?.name ?? algName(alg);
  return {
    specVersion: `${log.specId.specVersionMajor}.${log.specId.specVersionMinor} errata ${log.specId.specErrata}`,
    banks: log.specId.algorithms.map((a) => name(a.algorithmId)),
    events: log.events.map((e) => ({
      seq: e.seq,
      pcr: e.pcrIndex,
      type: eventTypeName(e.eventType),
      digests: Object.fromEntries(e.digests.map((d) => [name(d.hashAlg), d.digest.toString("hex")])),
      eventSize: e.event.length,
    })),
    pcrs: pcrBanksToJson(replayEventLog(log)),
  };
}

interface VerifyOpts {
  quote: string;
  signature: string;
  ak: string;
  pcrs?: string;
  nonce: string;
  selection?: string;
  previousClock?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("verify-quote")
    .description("verify a TPM quote (tpm2_quote -m/-s) against an AK, a nonce and PCR values (tpm2_pcrread -o)")
    .requiredOption("--quote <file>", "TPMS_ATTEST as written by tpm2_quote -m")
    .requiredOption("--signature <file>", "TPMT_SIGNATURE as written by tpm2_quote -s")
    .requiredOption("--ak <file>", "attestation key: TPM2B_PUBLIC (tpm2_createak -u) or PEM")
    .option("--pcrs <file>", "PCR values as written by tpm2_pcrread -o (over --selection, else the quote's selection)")
    .requiredOption("--nonce <hex>", "the nonce (qualifying data) sent with the quote request")
    .option("--selection <spec>", "required PCR selection, tpm2-tools syntax (sha256:0,1,7+sha1:0)")
    .option("--previous-clock <file>", "JSON clock state of this machine's previous accepted quote (reboot/rollback detection)")
    .option("--json", "print one JSON document")
    .action((o: VerifyOpts) => {
      // Parse everything first: a file that is not what it claims is unusable input (exit 2), not an invalid quote.
      const quote = readFileOrFail(o.quote, "quote");
      const attest = parseTpmsAttest(quote);
      const signature = parseTpmtSignature(readFileOrFail(o.signature, "signature"));
      const ak = loadAkPublic(readFileOrFail(o.ak, "attestation key"));
      const expectedNonce = parseNonceHex(o.nonce);
      const expectedSelection = o.selection ? parseSelectionSpec(o.selection) : undefined;
      const pcrs = o.pcrs ? parsePcrReadOutput(readFileOrFail(o.pcrs, "PCR values"), expectedSelection ?? attest.pcrSelect) : undefined;
      const previousClock = o.previousClock ? parseClockJson(readFileOrFail(o.previousClock, "previous clock").toString("utf8")) : undefined;

      const r = verifyQuote({ quote, signature, akPublic: ak.tpmPublic?.raw ?? ak.keyObject, pcrs, expectedNonce, expectedSelection, previousClock });
      if (o.json) {
        printJson({ ok: r.ok, findings: r.findings, quote: quoteJson(attest), ...(ak.tpmPublic ? { akName: ak.tpmPublic.name.toString("hex") } : {}), ...(pcrs ? { pcrs: pcrBanksToJson(pcrs) } : {}) });
      } else {
        process.stdout.write(`${r.ok ? "VALID" : "INVALID"}: quote over ${formatSelection(attest.pcrSelect)}, resetCount ${attest.clockInfo.resetCount}, clock ${attest.clockInfo.clock} ms\n`);
        printFindings(r.findings);
      }
      if (!r.ok) throw new CliExit(1);
    });

  const eventlog = program.command("eventlog").description("TCG PC Client crypto-agile event logs");
  eventlog
    .command("replay")
    .description("parse a binary event log and print its events and the PCR values it replays to")
    .argument("<file>", "binary log (e.g. /sys/kernel/security/tpm0/binary_bios_measurements)")
    .option("--json", "print one JSON document")
    .action((file: string, o: { json?: boolean }) => {
      const log = parseEventLog(readFileOrFail(file, "event log"));
      const j = eventLogJson(log);
      if (o.json) return printJson(j);
      process.stdout.write(`event log: spec ${String(j.specVersion)}, banks ${(j.banks as string[]).join(", ")}, ${log.events.length} events\n`);
      const primary = log.specId.algorithms.find((a) => a.algorithmId === 0xb)?.algorithmId ?? log.specId.algorithms[0]!.algorithmId;
      for (const e of log.events) {
        const d = e.digests.find((x) => x.hashAlg === primary)?.digest.toString("hex") ?? "-";
        process.stdout.write(`  #${String(e.seq).padEnd(4)} PCR ${String(e.pcrIndex).padStart(2)}  ${eventTypeName(e.eventType).padEnd(34)} ${d}\n`);
      }
      process.stdout.write("replayed PCRs:\n");
      printPcrs(replayEventLog(log));
    });

  const policy = program.command("policy").description("golden measurement policies");
  policy
    .command("check")
    .description("appraise an evidence directory (quote, signature, AK, nonce, PCRs, event log) against a golden policy")
    .requiredOption("--policy <file>", "golden policy JSON (see `trustmesh policy schema`)")
    .requiredOption("--evidence <dir>", "quote.attest, quote.sig, ak.pub|ak.pem, nonce.hex, [pcrs.bin], [eventlog.bin], [previous-clock.json]")
    .option("--json", "print one JSON document")
    .action((o: { policy: string; evidence: string; json?: boolean }) => {
      const pol = parsePolicyJson(readFileOrFail(o.policy, "policy").toString("utf8"));
      const dir = readEvidenceDir(o.evidence);
      const r = appraise({ evidence: dir.evidence, akPublic: dir.akPublic, expectedNonce: dir.nonce, previousClock: dir.previousClock, policy: pol });
      const ok = r.ok && !hasFailure(r.findings);
      if (o.json) {
        printJson({ ok, policy: pol.name, findings: r.findings, ...(r.attest ? { quote: quoteJson(r.attest) } : {}) });
      } else {
        const passed = r.findings.filter((f) => f.code === "POLICY_RULE_PASSED").length;
        process.stdout.write(`${ok ? "PASS" : "FAIL"}: policy "${pol.name}" (${passed}/${pol.rules.length} rules passed)\n`);
        printFindings(r.findings.filter((f) => f.code !== "POLICY_RULE_PASSED"));
      }
      if (!ok) throw new CliExit(1);
    });
  policy
    .command("schema")
    .description("print the JSON schema of golden policy documents")
    .action(() => printJson(policySchema()));
}
