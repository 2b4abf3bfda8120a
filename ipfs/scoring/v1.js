// trustmesh trust-scoring function v1.
// Pinned in IPFS by CID and run by every verifier in the deterministic sandbox: it must
// stay a plain script with one top-level `score(input)`, no imports, no I/O, integer
// arithmetic only (so every engine returns the same numbers). Contract: ./README.md.

function score(input) {
  var SEVERITIES = { info: 0, low: 5, medium: 15, high: 40, critical: 100 };
  var THRESHOLD = 60;

  function fail(msg) {
    throw new TypeError("score input: " + msg);
  }
  function isInt(v, lo, hi) {
    return typeof v === "number" && Math.floor(v) === v && v >= lo && v <= hi;
  }

  if (input === null || typeof input !== "object") fail("not an object");
  var findings = input.findings;
  var fingerprint = input.fingerprint;
  var history = input.history;
  if (!Array.isArray(findings)) fail("findings must be an array");
  if (fingerprint === null || typeof fingerprint !== "object") fail("fingerprint must be an object");
  if (typeof fingerprint.ok !== "boolean") fail("fingerprint.ok must be a boolean");
  if (!Array.isArray(fingerprint.changed)) fail("fingerprint.changed must be an array");
  if (!isInt(input.reputation, 0, 1000000)) fail("reputation must be an integer in 0..1000000");
  if (!isInt(input.tier, 0, 255)) fail("tier must be an integer in 0..255");
  if (!Array.isArray(history)) fail("history must be an array");

  var points = 100;
  var reasons = [];
  var critical = false;

  for (var i = 0; i < findings.length; i++) {
    var f = findings[i];
    if (f === null || typeof f !== "object" || typeof f.code !== "string") fail("findings[" + i + "].code must be a string");
    if (!Object.prototype.hasOwnProperty.call(SEVERITIES, f.severity)) fail("findings[" + i + "].severity is unknown");
    if (f.severity === "critical") critical = true;
    points -= SEVERITIES[f.severity];
    if (f.severity !== "info") reasons.push("finding:" + f.code + ":" + f.severity);
  }

  if (!fingerprint.ok) {
    var fpPenalty = 30;
    reasons.push("fingerprint:failed");
    for (var j = 0; j < fingerprint.changed.length; j++) {
      if (typeof fingerprint.changed[j] !== "string") fail("fingerprint.changed[" + j + "] must be a string");
      fpPenalty += 5;
      reasons.push("fingerprint:changed:" + fingerprint.changed[j]);
    }
    points -= Math.min(fpPenalty, 50);
  }

  // The last ten verdicts, each past failure costs a little: v1 forgives quickly.
  var untrusted = 0;
  for (var k = Math.max(0, history.length - 10); k < history.length; k++) {
    var h = history[k];
    if (h === null || typeof h !== "object" || (h.verdict !== "trusted" && h.verdict !== "untrusted")) {
      fail("history[" + k + "].verdict must be trusted or untrusted");
    }
    if (h.verdict === "untrusted") untrusted++;
  }
  if (untrusted > 0) {
    points -= 3 * untrusted;
    reasons.push("history:untrusted:" + untrusted);
  }

  if (input.reputation < 500000) {
    points -= Math.min(10, Math.floor((500000 - input.reputation) / 50000));
    reasons.push("reputation:low:" + input.reputation);
  }

  var s = critical ? 0 : Math.max(0, Math.min(100, points));
  return { score: s, verdict: !critical && s >= THRESHOLD ? "trusted" : "untrusted", reasons: reasons };
}
