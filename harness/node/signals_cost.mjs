// What the stream doctor's signals cost (streambench bench-signals): the same startSignals the
// measured worker runs, switched on and off in one process, A B B A, so drift hits both alike.
//
// `node harness/node/signals_cost.mjs ROUNDS PHASE_MS` prints one JSON object:
// - busy: per round, the work done with the signals on over the work done with them off, in a
//   phase of CPU-bound work that yields to the loop between 1 MiB hashes (as a stream does between
//   chunks), so the probe's timer and the GC observer run as they would in a measured section;
// - idle: the process's CPU per second of an idle loop with the signals on and off (their own cost,
//   with nothing else to hide it).
//
// No npm dependency: node: built-ins only.

import { createHash } from "node:crypto";

import { startSignals } from "./signals.mjs";

const rounds = Number(process.argv[2] ?? 20);
const phaseMs = Number(process.argv[3] ?? 250);
const chunk = Buffer.alloc(1 << 20, 7);
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withSignals(on) {
  process.env.STREAMBENCH_SIGNALS = on ? "all" : "0";
  return startSignals();
}

async function busy(on) {
  const stop = withSignals(on);
  const end = performance.now() + phaseMs;
  let hashed = 0;
  while (performance.now() < end) {
    createHash("sha256").update(chunk).digest();
    hashed += 1;
    await yieldToLoop();
  }
  stop();
  return hashed;
}

async function idleCpuMsPerS(on) {
  const stop = withSignals(on);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(phaseMs * 2);
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1e3;
  stop();
  return (cpu.user + cpu.system) / 1e3 / seconds;
}

async function main() {
  await busy(true); // warm up both paths (JIT, the hash) before anything is counted
  await busy(false);
  const ratios = [];
  const idleOn = [];
  const idleOff = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [true, false] : [false, true]; // A B, then B A
    const done = {};
    for (const on of order) done[on] = await busy(on);
    ratios.push(done[true] / done[false]);
    for (const on of order) (on ? idleOn : idleOff).push(await idleCpuMsPerS(on));
  }
  process.stdout.write(
    JSON.stringify({ rounds, phase_ms: phaseMs, busy_ratios: ratios, idle_cpu_ms_per_s_on: idleOn,
                     idle_cpu_ms_per_s_off: idleOff }) + "\n",
  );
}

main();
