// trustmesh trust-scoring function v2: the stricter upgrade of v1.
// Same contract and rules of purity as v1 (./README.md). Differences, all in the
// direction of distrust:
// - any high finding or a failed fingerprint makes the verdict untrusted whatever the score;
// - findings and changed components cost more;
// - history is weighed by recency (the newest failure costs 10, the tenth newest 1);
// - the full reputation range matters, not only its lower half;
// - the pass mark rises with the node's tier: 70 + 5 * tier (capped at 95).

function score(input) {
  var SEVERITIES = { info: 0, low: 5, medium: 20, high: 50, critical: 100 };

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
  var veto = false;
  var critical = false;

  for (var i = 0; i < findings.length; i++) {
    var f = findings[i];
    if (f === null || typeof f !== "object" || typeof f.code !== "string") fail("findings[" + i + "].code must be a string");
    if (!Object.prototype.hasOwnProperty.call(SEVERITIES, f.severity)) fail("findings[" + i + "].severity is unknown");
    if (f.severity === "critical") critical = true;
    if (f.severity === "high") veto = true;
    points -= SEVERITIES[f.severity];
    if (f.severity !== "info") reasons.push("finding:" + f.code + ":" + f.severity);
  }

  if (!fingerprint.ok) {
    veto = true;
    var fpPenalty = 40;
    reasons.push("fingerprint:failed");
    for (var j = 0; j < fingerprint.changed.length; j++) {
      if (typeof fingerprint.changed[j] !== "string") fail("fingerprint.changed[" + j + "] must be a string");
      fpPenalty += 10;
      reasons.push("fingerprint:changed:" + fingerprint.changed[j]);
    }
    points -= Math.min(fpPenalty, 80);
  }

  var historyPenalty = 0;
  var untrusted = 0;
  for (var k = history.length - 1, age = 0; k >= 0 && age < 10; k--, age++) {
    var h = history[k];
    if (h === null || typeof h !== "object" || (h.verdict !== "trusted" && h.verdict !== "untrusted")) {
      fail("history[" + k + "].verdict must be trusted or untrusted");
    }
    if (h.verdict === "untrusted") {
      untrusted++;
      historyPenalty += 10 - age;
    }
  }
  if (untrusted > 0) {
    points -= historyPenalty;
    reasons.push("history:untrusted:" + untrusted);
  }

  if (input.reputation < 1000000) {
    var repPenalty = Math.min(20, Math.floor((1000000 - input.reputation) / 50000));
    if (repPenalty > 0) {
      points -= repPenalty;
      reasons.push("reputation:low:" + input.reputation);
    }
  }

  var threshold = Math.min(95, 70 + 5 * input.tier);
  var s = critical ? 0 : Math.max(0, Math.min(100, points));
  if (veto && s >= threshold) reasons.push("veto");
  var trusted = !critical && !veto && s >= threshold;
  if (!trusted && !critical && !veto && s < threshold) reasons.push("below-threshold:" + threshold);
  return { score: s, verdict: trusted ? "trusted" : "untrusted", reasons: reasons };
}
