// The measured Node.js process: the seeds' own stream code, run the way the Python worker runs.
//
// `node harness/node/worker.mjs JOB_JSON` (JOB as harness.execute.executors.sink writes it, and
// harness.runtimes.node adds to) with the sink's fd and a result fd inherited. It joins the cgroup,
// resets its peak-RSS mark (clear_refs), takes its baseline, then does nothing in the measured
// section but move the bytes with one of the seeds' strategies or the user's own module, and writes
// one JSON report (harness/measure/report.py's keys) to the result fd, also when the strategy failed
// (outcome "error" with Node's own message and the file:line it was thrown at).
//
// No npm dependency: node: built-ins only.

import fs from "node:fs";

import { startSignals } from "./signals.mjs";

import {
  engineNotes,
  finished,
  loadUserExport,
  makeTransform,
  monotonic,
  newStats,
  openSink,
  openSource,
  sectionFigures,
  usageNow,
  STRATEGIES,
  topFrame,
} from "./strategies.mjs";

const job = JSON.parse(process.argv[2]);
const MEMORY_SAMPLE_MS = 10;

// --- probes --------------------------------------------------------------------------------------

function readKeyed(path) {
  const out = {};
  try {
    for (const line of fs.readFileSync(path, "utf8").split("\n")) {
      const m = line.match(/^(\w+):\s+(\d+)(\s+kB)?/);
      if (m) out[m[1]] = Number(m[2]) * (m[3] ? 1024 : 1);
    }
  } catch {
    // a probe that cannot be read is absent, not fatal
  }
  return out;
}
const readStatus = () => readKeyed("/proc/self/status");
const IO_FIELDS = ["rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes"];
function readIo() {
  const out = {};
  try {
    for (const line of fs.readFileSync("/proc/self/io", "utf8").split("\n")) {
      const [k, v] = line.split(":");
      if (IO_FIELDS.includes(k)) out[k] = Number(v);
    }
  } catch {
    // absent, as above
  }
  return out;
}
function resetPeakRss() {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

// --- the measured section -------------------------------------------------------------------------

// A user's module (README "Measure your own code"): its export is called with what the harness made,
// inside the measured section; it resolves when every byte is written (a sink it did not end is
// ended and awaited here, inside the section: the bytes must be out).
const NO_READABLE_HWM = new Set(["node-readfile", "bun-file", "bun-write", "deno-file"]);
const abort = new AbortController();
process.once("SIGTERM", () => abort.abort(new Error("streambench stopped the run (SIGTERM)")));

async function userStrategy(user, notes, writableHwm) {
  const fn = await loadUserExport(user.path, user.export);
  return async ({ transform, sink, stats }) => {
    const moved = await fn({
      sourcePath: job.source_path,
      sizeBytes: job.size_bytes,
      sink,
      chunkBytes: job.chunk_bytes,
      highWaterMark: writableHwm,
      transform,
      signal: abort.signal,
      options: user.options,
    });
    if (!sink.writableFinished) {
      const done = finished(sink);
      if (!sink.writableEnded) sink.end();
      await done;
    }
    stats.moved = typeof moved === "number" ? moved : job.size_bytes;
    if (typeof moved !== "number") notes.bytes_moved_from = "the source's size (the module returned no number)";
  };
}

async function main() {
  const notes = engineNotes();
  const writableHwm = job.high_water_mark_bytes || job.chunk_bytes;
  // Loaded before the section, as a built-in strategy's code is.
  const run = job.user_module ? await userStrategy(job.user_module, notes, writableHwm) : STRATEGIES[job.strategy];
  if (!run) throw new Error(`unknown Node strategy ${job.strategy}`);
  const stats = newStats();
  const sink = openSink(job, writableHwm);
  const transform = await makeTransform(job, notes);
  if (job.strategy === "node-readfile" && transform) throw new Error("node-readfile runs no transform");
  const readable = openSource(job, transform, stats);
  notes.readable_high_water_mark_bytes = stats.source ? stats.source.readableHighWaterMark : job.chunk_bytes;
  // No readable of ours with a highWaterMark to read back: the whole file, a native file API, a user's code.
  if (NO_READABLE_HWM.has(job.strategy) || job.user_module) delete notes.readable_high_water_mark_bytes;
  notes.writable_high_water_mark_bytes = sink.writableHighWaterMark;

  // Setup is done: under the cap (as the Python worker joins after its imports), and from
  // here on the peak is the run's.
  for (const procs of [job.cgroup_procs, job.disk_read_procs]) if (procs) fs.writeFileSync(procs, String(process.pid));
  globalThis.gc?.();
  const peakReset = resetPeakRss();
  const baseline = readStatus();
  const io0 = readIo();
  const ru0 = usageNow();
  let peakMemory = process.memoryUsage();
  // memoryUsage.rss() is one read of /proc; the full breakdown only when the peak moves.
  const sampler = setInterval(() => {
    if (process.memoryUsage.rss() > peakMemory.rss) peakMemory = process.memoryUsage();
  }, MEMORY_SAMPLE_MS);
  const stopSignals = startSignals();
  const t0 = monotonic();
  let outcome = "ok";
  let error = null;
  try {
    await run({ source: job.source_path, readable, transform, sink, t0, stats, job, notes });
  } catch (e) {
    outcome = "error";
    const where = topFrame(e);
    error = `${e?.name || "Error"}: ${e?.message ?? e}${where ? ` (at ${where})` : ""}`;
    process.stderr.write(`${e?.stack || e}\n`);
  }
  const t1 = monotonic();
  Object.assign(notes, stopSignals());
  clearInterval(sampler);
  if (stats.source) stats.moved = stats.source.bytesRead;
  const endMemory = process.memoryUsage();
  if (endMemory.rss > peakMemory.rss) peakMemory = endMemory;
  const ru1 = usageNow();
  const io1 = readIo();
  const final = readStatus();
  sink.destroy(); // our end closed: the consumer's EOF, not part of the run
  if (outcome === "ok" && stats.moved !== job.size_bytes) {
    outcome = "error";
    error = `moved ${stats.moved} of ${job.size_bytes} bytes: the source changed size during the run (truncated?)`;
  }
  const io = {};
  for (const k of Object.keys(io1)) io[k] = io1[k] - (io0[k] ?? 0);
  const perCall = (n, calls) => (n && calls ? n / calls : null);
  notes.memory_at_peak = peakMemory;
  notes.memory_at_end = endMemory;
  const report = {
    outcome,
    error,
    bytes_moved: stats.moved,
    ...sectionFigures({ startedAt: t0, endedAt: t1, ru0, ru1, baseline, final, peakReset }),
    strategy_inblock: ru1.fsRead - ru0.fsRead,
    strategy_oublock: ru1.fsWrite - ru0.fsWrite,
    io,
    chunks: Math.ceil(stats.moved / job.chunk_bytes),
    largest_chunk_bytes: Math.min(job.chunk_bytes, stats.moved),
    observed_read_chunk_bytes: perCall(io.rchar, io.syscr),
    observed_write_chunk_bytes: perCall(io.wchar, io.syscw),
    pauses: stats.pauses,
    drains: stats.drains,
    max_buffered_bytes: stats.maxBuffered,
    buffered_timeline: stats.timeline.map(([t, b]) => [Math.round(t * 1e4) / 1e4, b]),
    strategy_notes: notes,
  };
  writeAll(job.result_fd, JSON.stringify(report));
}

// The whole report on the result pipe, then the pipe closed. A runtime that cannot write to an
// inherited descriptor through node:fs (Deno) writes to the same pipe opened again by path.
function writeAll(inherited, text) {
  const fd = job.reopen_fds ? fs.openSync(`/proc/self/fd/${inherited}`, "w") : inherited;
  const data = Buffer.from(text);
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off);
  fs.closeSync(fd);
}

main().then(
  () => process.exit(0),
  (e) => {
    // Setup failed before the run: still report, never hang.
    try {
      const where = topFrame(e);
      const what = `worker setup: ${e?.name}: ${e?.message ?? e}${where ? ` (at ${where})` : ""}`;
      writeAll(job.result_fd, JSON.stringify({ outcome: "error", error: what }));
    } catch {
      // the parent will record a crash
    }
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  },
);
