// Sandbox worker: runs untrusted functions, each in a fresh QuickJS (WASI) VM. One-shot
// mode (run.ts) runs the job in workerData and posts one answer; pool mode (pool.ts) answers
// job messages one at a time, a new VM for each. Plain JavaScript on purpose: it is started with an empty execArgv, so it
// boots without a TypeScript loader (fast, and the same under tsx, mocha or the CLI).
// The host (run.ts) owns the hard deadline and terminates this thread; this file owns the
// soft deadline, the memory limit and determinism.
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { QuickJS } from "quickjs-wasi";

const ERRNO_SUCCESS = 0;

// Runs before any untrusted code: it captures the intrinsics the runner needs, so the
// function cannot swap JSON.stringify or Array.isArray to smuggle an unchecked value out,
// and removes the globals whose behaviour depends on the garbage collector.
const PRELUDE = `(function () {
  "use strict";
  var stringify = JSON.stringify, parse = JSON.parse, isArray = Array.isArray;
  var getProto = Object.getPrototypeOf, keys = Object.keys, isFinite = Number.isFinite;
  var ObjectProto = Object.prototype, PromiseProto = Promise.prototype;
  delete globalThis.WeakRef;
  delete globalThis.FinalizationRegistry;
  function check(v, path, depth) {
    if (depth > 64) return path + ": nested deeper than 64 levels (or cyclic)";
    if (v === null || typeof v === "boolean" || typeof v === "string") return null;
    if (typeof v === "number") return isFinite(v) ? null : path + ": non-finite number";
    if (typeof v !== "object") return path + ": " + typeof v + " is not JSON";
    if (isArray(v)) {
      for (var i = 0; i < v.length; i++) {
        var e = check(v[i], path + "[" + i + "]", depth + 1);
        if (e) return e;
      }
      return null;
    }
    var proto = getProto(v);
    if (proto === PromiseProto) return path + ": a Promise (async entry functions are not supported)";
    if (proto !== ObjectProto && proto !== null) return path + ": not a plain object";
    var ks = keys(v);
    for (var j = 0; j < ks.length; j++) {
      var err = check(v[ks[j]], path + "." + ks[j], depth + 1);
      if (err) return err;
    }
    return null;
  }
  return {
    parse: function (inputJson) { return parse(inputJson); },
    finish: function (out) {
      var bad = check(out, "output", 0);
      return bad ? "I" + bad : "O" + stringify(out);
    },
  };
})()`;

/** Fixed clock (Date.now, performance.now and QuickJS's Math.random seed) and RNG. */
function deterministicWasi(nowMs) {
  return (memory) => {
    let counter = 0;
    return {
      clock_time_get(_clockId, _precision, resultPtr) {
        new DataView(memory.buffer).setBigUint64(resultPtr, BigInt(nowMs) * 1_000_000n, true);
        return ERRNO_SUCCESS;
      },
      random_get(ptr, len) {
        const out = new Uint8Array(memory.buffer, ptr, len);
        for (let i = 0; i < len; i++) {
          counter = (counter * 1103515245 + 12345) >>> 0;
          out[i] = counter >>> 24;
        }
        return ERRNO_SUCCESS;
      },
      // No I/O: whatever the engine would print goes nowhere.
      fd_write(_fd, iovsPtr, iovsLen, nwrittenPtr) {
        const view = new DataView(memory.buffer);
        let total = 0;
        for (let i = 0; i < iovsLen; i++) total += view.getUint32(iovsPtr + i * 8 + 4, true);
        view.setUint32(nwrittenPtr, total, true);
        return ERRNO_SUCCESS;
      },
    };
  };
}

function classify(err, interrupted) {
  if (interrupted) return { code: "TIMEOUT", message: "time limit reached (interrupted)" };
  const name = err && typeof err.name === "string" ? err.name : "Error";
  const message = err && typeof err.message === "string" ? err.message : String(err);
  if (err instanceof WebAssembly.RuntimeError) return { code: "CRASH", message: `VM trap: ${message}` };
  if (name === "InternalError" && /out of memory/.test(message)) return { code: "MEMORY", message: "memory limit reached" };
  if (name === "RangeError" && /call stack/i.test(message)) return { code: "STACK", message };
  return { code: "THROW", message: `${name}: ${message}` };
}


/**
 * CPU time of this thread in ms (Linux: /proc/thread-self/schedstat, updated at scheduler
 * ticks, so only meaningful over tens of ms), undefined elsewhere. Wall times on a shared
 * machine measure the neighbours too; CPU time measures the guest.
 */
function threadCpuMs() {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0]) / 1e6;
  } catch {
    return undefined;
  }
}

async function runJob(module, job, stats) {
  const { source, entry, inputJson, timeMs, memoryBytes, nowMs, maxOutputBytes } = job;
  let interrupted = false;
  let deadline = Infinity;
  const vm = await QuickJS.create({
    wasm: module,
    wasi: deterministicWasi(nowMs),
    memoryLimit: memoryBytes,
    // Without an explicit guard, deep recursion overruns the WASM stack and traps (the VM
    // is then corrupt); with it, the guest gets a RangeError we can classify as STACK.
    maxStackSize: 256 * 1024,
    timezoneOffset: 0,
    interruptHandler: () => {
      if (performance.now() > deadline) interrupted = true;
      return interrupted;
    },
  });
  try {
    const helpers = vm.evalCode(PRELUDE, "<prelude>");
    const parseFn = helpers.getProp("parse");
    const finishFn = helpers.getProp("finish");
    const started = performance.now();
    const cpuStarted = threadCpuMs();
    deadline = started + timeMs;
    try {
      try {
        vm.evalCode(source, "function.js").dispose();
      } catch (err) {
        const c = classify(err, interrupted);
        return { ok: false, code: c.code === "THROW" ? "LOAD" : c.code, message: c.message };
      }
      const fn = vm.global.getProp(entry);
      if (vm.typeof(fn) !== "function") return { ok: false, code: "NO_ENTRY", message: `${entry} is not a function in the source` };
      let text;
      try {
        const input = vm.callFunction(parseFn, vm.undefined, vm.newString(inputJson));
        const callCpu = threadCpuMs();
        const callStarted = performance.now();
        const out = vm.callFunction(fn, vm.undefined, input);
        stats.runMs = performance.now() - callStarted;
        if (callCpu !== undefined) stats.runCpuMs = threadCpuMs() - callCpu;
        text = vm.callFunction(finishFn, vm.undefined, out).consume((h) => h.toString());
      } catch (err) {
        return { ok: false, ...classify(err, interrupted) };
      }
      if (text[0] === "I") return { ok: false, code: "INVALID_OUTPUT", message: text.slice(1) };
      const json = text.slice(1);
      if (Buffer.byteLength(json) > maxOutputBytes) {
        return { ok: false, code: "INVALID_OUTPUT", message: `output is ${Buffer.byteLength(json)} bytes, limit ${maxOutputBytes}` };
      }
      return { ok: true, json };
    } finally {
      stats.vmMs = performance.now() - started;
      if (cpuStarted !== undefined) stats.vmCpuMs = threadCpuMs() - cpuStarted;
    }
  } catch (err) {
    return { ok: false, ...classify(err, interrupted) };
  } finally {
    try {
      vm.dispose();
    } catch {
      // a trapped VM may not free cleanly; the thread ends anyway
    }
  }
}

async function answer(module, job) {
  const stats = { vmMs: 0, runMs: 0, runCpuMs: undefined, vmCpuMs: undefined };
  try {
    return { ...(await runJob(module, job, stats)), ...stats };
  } catch (err) {
    return { ok: false, ...classify(err, false), ...stats };
  }
}

if (workerData.mode === "pool") {
  // Jobs arrive one at a time (the pool never sends a second before the first answer).
  parentPort.on("message", async (job) => {
    parentPort.postMessage({ id: job.id, ...(await answer(workerData.module, job)) });
  });
} else {
  parentPort.postMessage(await answer(workerData.module, workerData));
}
