// The measured Node.js process: the seeds' own stream code, run the way the Python worker runs.
//
// `node harness/node/worker.mjs JOB_JSON` (JOB as harness.execute.executors.node writes it) with the
// sink's fd and a result fd inherited. It joins the cgroup, resets its peak-RSS mark (clear_refs),
// takes its baseline, then does nothing in the measured section but move the bytes with one of the
// strategies below, and writes one JSON report (harness/measure/report.py's keys) to the result fd,
// also when the strategy failed (outcome "error" with Node's own message).
//
// No npm dependency: node: built-ins only.

import crypto from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import { pipeline, Transform } from "node:stream";
import zlib from "node:zlib";

const job = JSON.parse(process.argv[2]);
const MEMORY_SAMPLE_MS = 10;
const BUFFERED_TIMELINE_MAX = 2000;

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
// CLOCK_MONOTONIC, in seconds: the same clock as the parent's time.monotonic().
const monotonic = () => Number(process.hrtime.bigint()) / 1e9;

// --- transforms ----------------------------------------------------------------------------------

function sha256Transform(notes) {
  const h = crypto.createHash("sha256");
  return new Transform({
    transform(chunk, _enc, done) {
      h.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      notes.sha256 = h.digest("hex");
      done();
    },
  });
}

function grepTransform(pattern, notes) {
  // Keep the lines that contain the pattern; a line may span chunks (the Python Grep's rules).
  const needle = Buffer.from(pattern, "latin1");
  let carry = Buffer.alloc(0);
  let kept = 0;
  const filter = (text) => {
    const out = [];
    let start = 0;
    for (;;) {
      const nl = text.indexOf(10, start);
      const line = nl < 0 ? text.subarray(start) : text.subarray(start, nl);
      if (line.includes(needle)) {
        out.push(line, Buffer.from("\n"));
        kept += 1;
      }
      if (nl < 0) break;
      start = nl + 1;
    }
    return Buffer.concat(out);
  };
  return new Transform({
    transform(chunk, _enc, done) {
      const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const cut = data.lastIndexOf(10);
      if (cut < 0) {
        carry = Buffer.from(data);
        return done();
      }
      carry = Buffer.from(data.subarray(cut + 1));
      done(null, filter(data.subarray(0, cut)));
    },
    flush(done) {
      let tail = Buffer.alloc(0);
      if (carry.length && carry.includes(needle)) {
        kept += 1;
        tail = Buffer.concat([carry, Buffer.from("\n")]);
      }
      notes.grep_pattern = pattern;
      notes.lines_kept = kept;
      done(null, tail.length ? tail : undefined);
    },
  });
}

function makeTransform(name, notes) {
  if (!name || name === "none") return null;
  if (name === "gzip") {
    notes.gzip_level = job.gzip_level;
    return zlib.createGzip({ level: job.gzip_level });
  }
  if (name === "sha256") return sha256Transform(notes);
  if (name === "grep") return grepTransform(job.grep_pattern, notes);
  throw new Error(`no Node transform ${name}`);
}

// --- the sink: the harness's fd, wrapped as Node wraps a pipe, a socket or a file ------------------

function openSink(writableHwm) {
  if (job.sink === "file") {
    return fs.createWriteStream(null, { fd: job.sink_fd, highWaterMark: writableHwm, autoClose: true });
  }
  return new net.Socket({ fd: job.sink_fd, readable: false, writable: true, writableHighWaterMark: writableHwm });
}

// --- strategies: the seeds' code ------------------------------------------------------------------

// Bytes moved are the source's own count (ReadStream.bytesRead): no extra 'data' listener
// changes how a strategy's stream flows.
const stats = { source: null, moved: 0, pauses: null, drains: null, maxBuffered: null, timeline: [] };

function sawBuffered(sink, t0) {
  const held = sink.writableLength;
  if (held > stats.maxBuffered) stats.maxBuffered = held;
  if (stats.timeline.length < BUFFERED_TIMELINE_MAX) stats.timeline.push([monotonic() - t0, held]);
}

const finished = (sink) =>
  new Promise((resolve, reject) => {
    sink.once("finish", resolve);
    sink.once("error", reject);
  });

const STRATEGIES = {
  // fs.readFile(path, (err, buf) => res.end(buf)): the whole file in one Buffer, then one write.
  async "node-readfile"({ source, sink }) {
    const buf = await fs.promises.readFile(source);
    stats.moved = buf.length;
    const done = finished(sink);
    sink.end(buf);
    await done;
  },
  // fs.createReadStream(path).pipe(res): pipe() respects backpressure for us.
  async "node-pipe"({ readable, sink }) {
    const done = finished(sink);
    readable.on("error", (e) => sink.destroy(e));
    readable.pipe(sink);
    await done;
  },
  // write() -> false: pause(); 'drain': resume(). The seeds' manual backpressure.
  async "node-pause-drain"({ readable, sink, t0 }) {
    stats.pauses = 0;
    stats.drains = 0;
    stats.maxBuffered = 0;
    const done = finished(sink);
    readable.on("data", (c) => {
      if (!sink.write(c)) {
        stats.pauses += 1;
        readable.pause();
        sink.once("drain", () => {
          stats.drains += 1;
          readable.resume();
        });
      }
      sawBuffered(sink, t0);
    });
    readable.on("end", () => sink.end());
    readable.on("error", (e) => sink.destroy(e));
    await done;
  },
  // stream.pipeline(src, ..., res, callback): errors and cleanup in one place.
  async "node-pipeline"({ source, transform, sink }) {
    await new Promise((resolve, reject) => {
      const src = fs.createReadStream(source, { highWaterMark: job.chunk_bytes });
      stats.source = src;
      const stages = transform ? [src, transform, sink] : [src, sink];
      pipeline(...stages, (err) => (err ? reject(err) : resolve()));
    });
  },
  // for await (const chunk of src) { if (!res.write(chunk)) await once(res, 'drain') }
  async "node-async-iter"({ readable, sink, t0 }) {
    stats.pauses = 0;
    stats.drains = 0;
    stats.maxBuffered = 0;
    const done = finished(sink);
    for await (const c of readable) {
      if (!sink.write(c)) {
        stats.pauses += 1;
        sawBuffered(sink, t0);
        await once(sink, "drain");
        stats.drains += 1;
      }
    }
    sink.end();
    await done;
  },
};

// --- the measured section -------------------------------------------------------------------------

async function main() {
  if (job.cgroup_procs) fs.writeFileSync(job.cgroup_procs, String(process.pid)); // under the cap first
  const run = STRATEGIES[job.strategy];
  if (!run) throw new Error(`unknown Node strategy ${job.strategy}`);
  const notes = { node_version: process.version, v8_version: process.versions.v8 };
  const writableHwm = job.high_water_mark_bytes || job.chunk_bytes;
  const sink = openSink(writableHwm);
  const transform = makeTransform(job.transform, notes);
  let readable = null;
  if (job.strategy !== "node-readfile" && job.strategy !== "node-pipeline") {
    const src = fs.createReadStream(job.source_path, { highWaterMark: job.chunk_bytes });
    stats.source = src;
    notes.readable_high_water_mark_bytes = src.readableHighWaterMark;
    readable = transform ? src.pipe(transform) : src;
    if (transform) src.on("error", (e) => transform.destroy(e));
  } else if (job.strategy === "node-pipeline") {
    notes.readable_high_water_mark_bytes = job.chunk_bytes;
  }
  if (job.strategy === "node-readfile" && transform) throw new Error("node-readfile runs no transform");
  notes.writable_high_water_mark_bytes = sink.writableHighWaterMark;

  // Setup is done: from here on, the peak is the run's.
  globalThis.gc?.();
  const peakReset = resetPeakRss();
  const baseline = readStatus();
  const io0 = readIo();
  const ru0 = process.resourceUsage();
  let peakMemory = process.memoryUsage();
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peakMemory.rss) peakMemory = m;
  }, MEMORY_SAMPLE_MS);
  const t0 = monotonic();
  let outcome = "ok";
  let error = null;
  try {
    await run({ source: job.source_path, readable, transform, sink, t0 });
  } catch (e) {
    outcome = "error";
    error = `${e.name || "Error"}: ${e.message}`;
    process.stderr.write(`${e.stack || e}\n`);
  }
  const t1 = monotonic();
  clearInterval(sampler);
  if (stats.source) stats.moved = stats.source.bytesRead;
  const endMemory = process.memoryUsage();
  if (endMemory.rss > peakMemory.rss) peakMemory = endMemory;
  const ru1 = process.resourceUsage();
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
    started_at: t0,
    ended_at: t1,
    wall_s: t1 - t0,
    strategy_user_s: (ru1.userCPUTime - ru0.userCPUTime) / 1e6,
    strategy_sys_s: (ru1.systemCPUTime - ru0.systemCPUTime) / 1e6,
    strategy_major_faults: ru1.majorPageFault - ru0.majorPageFault,
    strategy_minor_faults: ru1.minorPageFault - ru0.minorPageFault,
    strategy_inblock: ru1.fsRead - ru0.fsRead,
    strategy_oublock: ru1.fsWrite - ru0.fsWrite,
    strategy_voluntary_ctx_switches: ru1.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
    strategy_involuntary_ctx_switches: ru1.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
    peak_rss_bytes: final.VmHWM ?? null,
    peak_rss_reset: peakReset,
    baseline_rss_bytes: baseline.VmRSS ?? null,
    baseline_rss_anon_bytes: baseline.RssAnon ?? null,
    baseline_rss_file_bytes: baseline.RssFile ?? null,
    final_rss_anon_bytes: final.RssAnon ?? null,
    final_rss_file_bytes: final.RssFile ?? null,
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
  fs.closeSync(job.result_fd);
}

function writeAll(fd, text) {
  const data = Buffer.from(text);
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off);
}

main().then(
  () => process.exit(0),
  (e) => {
    // Setup failed before the run: still report, never hang.
    try {
      writeAll(job.result_fd, JSON.stringify({ outcome: "error", error: `worker setup: ${e.name}: ${e.message}` }));
    } catch {
      // the parent will record a crash
    }
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  },
);
