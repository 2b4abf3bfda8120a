// trustmesh task function: the common names of two lists (the seed's capsule example).
// Pinned in IPFS by CID and run by the executor in the deterministic sandbox: a plain
// script with one top-level `run(inputs)`, no imports, no I/O. Contract: ./README.md.
// inputs = [listOfB, listOfC], each an array of strings; the output is the names found
// in both, each once, sorted by UTF-16 code units (the same order on every engine).

function run(inputs) {
  function fail(msg) {
    throw new TypeError("run input: " + msg);
  }
  if (!Array.isArray(inputs) || inputs.length !== 2) fail("expected two lists");
  var a = inputs[0];
  var b = inputs[1];
  if (!Array.isArray(a) || !Array.isArray(b)) fail("each input must be an array of strings");
  var i;
  var inB = new Set();
  for (i = 0; i < b.length; i++) {
    if (typeof b[i] !== "string") fail("list 2 item " + i + " is not a string");
    inB.add(b[i]);
  }
  var taken = new Set();
  var out = [];
  for (i = 0; i < a.length; i++) {
    var name = a[i];
    if (typeof name !== "string") fail("list 1 item " + i + " is not a string");
    if (inB.has(name) && !taken.has(name)) {
      taken.add(name);
      out.push(name);
    }
  }
  out.sort();
  return out;
}
