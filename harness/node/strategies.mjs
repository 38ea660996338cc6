// The seeds' stream code, shared by the measured worker (worker.mjs) and the bare standalone run
// (standalone.mjs) that bench-overhead times against it. node: built-ins only.

import crypto from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Duplex, pipeline, Readable, Transform, Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import zlib from "node:zlib";

const BUFFERED_TIMELINE_MAX = 2000;
// CLOCK_MONOTONIC, in seconds: the same clock as the parent's time.monotonic().
export const monotonic = () => Number(process.hrtime.bigint()) / 1e9;

// What runs this code, by its own word: the runtime and its version, the engine, libuv where there is one.
// The runtime's own defaults, read back (Node 22 raised the writable one from 16 to 64 KiB): what
// the seeds' code gets when it sets none. The runs themselves set --high-water-mark (default: a chunk).
function defaultHighWaterMarks() {
  return {
    default_writable_high_water_mark_bytes: new Writable().writableHighWaterMark,
    default_readable_high_water_mark_bytes: new Readable().readableHighWaterMark,
  };
}

// The process's resource use now, and its main thread's scheduling (/proc/self/schedstat: ns on a CPU,
// ns runnable but waiting for one; null where the kernel keeps none).
export function usageNow() {
  let sched = null;
  try {
    const [onCpu, waiting] = fs.readFileSync("/proc/self/schedstat", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isFinite(onCpu) && Number.isFinite(waiting)) sched = { onCpu, waiting };
  } catch {
    sched = null;
  }
  return { ...process.resourceUsage(), sched };
}

// A measured section's figures under the contract's keys (harness/measure/report.py), from the process's
// own usageNow() and /proc/self/status before and after: the worker's and the server's alike.
export function sectionFigures({ startedAt, endedAt, ru0, ru1, baseline, final, peakReset }) {
  const sched = ru0.sched && ru1.sched;
  return {
    // the main thread (the event loop): on a CPU, and runnable but waiting for one
    main_thread_on_cpu_s: sched ? (ru1.sched.onCpu - ru0.sched.onCpu) / 1e9 : null,
    main_thread_runqueue_s: sched ? (ru1.sched.waiting - ru0.sched.waiting) / 1e9 : null,
    started_at: startedAt,
    ended_at: endedAt,
    wall_s: endedAt - startedAt,
    strategy_user_s: (ru1.userCPUTime - ru0.userCPUTime) / 1e6,
    strategy_sys_s: (ru1.systemCPUTime - ru0.systemCPUTime) / 1e6,
    strategy_major_faults: ru1.majorPageFault - ru0.majorPageFault,
    strategy_minor_faults: ru1.minorPageFault - ru0.minorPageFault,
    strategy_voluntary_ctx_switches: ru1.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
    strategy_involuntary_ctx_switches: ru1.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
    // VmHWM lags the exact VmRSS by per-CPU counter batches on 6.x kernels: never below an RSS seen.
    peak_rss_bytes: final.VmHWM == null ? null : Math.max(final.VmHWM, baseline.VmRSS ?? 0, final.VmRSS ?? 0),
    peak_rss_reset: peakReset,
    baseline_rss_bytes: baseline.VmRSS ?? null,
    baseline_rss_anon_bytes: baseline.RssAnon ?? null,
    baseline_rss_file_bytes: baseline.RssFile ?? null,
    final_rss_anon_bytes: final.RssAnon ?? null,
    final_rss_file_bytes: final.RssFile ?? null,
  };
}

export function engineNotes() {
  if (globalThis.Bun) {
    return { runtime: "bun", runtime_version: globalThis.Bun.version, engine: "JavaScriptCore",
             engine_version: process.versions.webkit, node_compat_version: process.versions.node,
             ...defaultHighWaterMarks() };
  }
  if (globalThis.Deno) {
    return { runtime: "deno", runtime_version: globalThis.Deno.version.deno, engine: "V8",
             engine_version: globalThis.Deno.version.v8, node_compat_version: process.versions.node,
             ...defaultHighWaterMarks() };
  }
  return { runtime: "node", runtime_version: process.versions.node, engine: "V8", engine_version: process.versions.v8,
           libuv_version: process.versions.uv, uv_use_io_uring: process.env.UV_USE_IO_URING ?? null,
           node_version: process.version, v8_version: process.versions.v8, ...defaultHighWaterMarks() };
}

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

// --- a user's module: the strategy or transform a path names (README "Measure your own code") -----

// Where the user's code threw: "file.mjs:LINE" of the first frame in a file that is neither Node's
// (node:) nor streambench's own (this folder); "" when there is none.
const OURS = path.dirname(new URL(import.meta.url).pathname) + path.sep;
export function topFrame(e) {
  for (const line of String(e?.stack || "").split("\n").slice(1)) {
    const m = line.match(/\(?((?:file:\/\/)?\/[^():\s]+):(\d+):\d+\)?\s*$/);
    if (m && !m[1].replace("file://", "").startsWith(OURS)) return `${path.basename(m[1])}:${m[2]}`;
  }
  return "";
}

export async function loadUserExport(file, exportName) {
  const mod = await import(pathToFileURL(file).href);
  const name = exportName || "default";
  const found = mod[name];
  if (typeof found !== "function") {
    const what = name === "default" ? "default export" : `export '${name}'`;
    const names = Object.keys(mod).join(", ") || "nothing";
    throw new TypeError(`${path.basename(file)} has no function as its ${what} (it exports: ${names})`);
  }
  return found;
}

// A transform module's export makes a new stream Transform (a function, sync or async, of nothing).
export async function makeUserTransform(file, exportName) {
  const make = await loadUserExport(file, exportName);
  const made = await make();
  if (!made || typeof made.pipe !== "function" || typeof made.write !== "function") {
    throw new TypeError(`${path.basename(file)}: its export made ${made === null ? "null" : typeof made}, not a stream Transform`);
  }
  return made;
}

export async function makeTransform(job, notes) {
  const name = job.transform;
  if (!name || name === "none") return null;
  if (job.transform_module) return makeUserTransform(job.transform_module.path, job.transform_module.export);
  if (name === "gzip") {
    notes.gzip_level = job.gzip_level;
    return zlib.createGzip({ level: job.gzip_level });
  }
  if (name === "sha256") return sha256Transform(notes);
  if (name === "grep") return grepTransform(job.grep_pattern, notes);
  throw new Error(`no Node transform ${name}`);
}

// --- the sink: the harness's fd, wrapped as Node wraps a pipe, a socket or a file ------------------

export function openSink(job, writableHwm) {
  if (job.sink === "file") {
    if (job.reopen_fds) {
      // A runtime that cannot adopt a file's fd (Deno) opens the same file again, at offset 0 (the
      // harness's file sink is written from its start): the same bytes reach the same file.
      return fs.createWriteStream(`/proc/self/fd/${job.sink_fd}`, { flags: "r+", highWaterMark: writableHwm });
    }
    return fs.createWriteStream(null, { fd: job.sink_fd, highWaterMark: writableHwm, autoClose: true });
  }
  return new net.Socket({ fd: job.sink_fd, readable: false, writable: true, writableHighWaterMark: writableHwm });
}

// --- strategies: the seeds' code ------------------------------------------------------------------

// Bytes moved are the source's own count (ReadStream.bytesRead): no extra 'data' listener
// changes how a strategy's stream flows.
export const newStats = () => ({ source: null, moved: 0, pauses: null, drains: null, maxBuffered: null, timeline: [] });

function sawBuffered(stats, sink, t0) {
  const held = sink.writableLength;
  if (held > stats.maxBuffered) stats.maxBuffered = held;
  if (stats.timeline.length < BUFFERED_TIMELINE_MAX) stats.timeline.push([monotonic() - t0, held]);
}

export const finished = (sink) =>
  new Promise((resolve, reject) => {
    sink.once("finish", resolve);
    sink.once("error", reject);
  });

// The seeds' 'data' loop: write each chunk; with ``honour`` pause when write() says false and resume
// on 'drain' (manual backpressure), without it keep writing (the counterexample). ``work`` runs on
// each chunk first, on the loop thread (a planted fault).
function dataLoop(readable, sink, t0, stats, { honour, work = null }) {
  stats.pauses = 0;
  stats.drains = 0;
  stats.maxBuffered = 0;
  const done = finished(sink);
  readable.on("data", (c) => {
    work?.(c);
    if (!sink.write(c) && honour) {
      stats.pauses += 1;
      readable.pause();
      sink.once("drain", () => {
        stats.drains += 1;
        readable.resume();
      });
    }
    sawBuffered(stats, sink, t0);
  });
  readable.on("end", () => sink.end());
  readable.on("error", (e) => sink.destroy(e));
  return done;
}

export const STRATEGIES = {
  // fs.readFile(path, (err, buf) => res.end(buf)): the whole file in one Buffer, then one write.
  async "node-readfile"({ source, sink, stats }) {
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
  async "node-pause-drain"({ readable, sink, t0, stats }) {
    await dataLoop(readable, sink, t0, stats, { honour: true });
  },
  // stream.pipeline(src, ..., res, callback): errors and cleanup in one place.
  async "node-pipeline"({ source, transform, sink, stats, job }) {
    await new Promise((resolve, reject) => {
      const src = fs.createReadStream(source, { highWaterMark: job.chunk_bytes });
      stats.source = src;
      const stages = transform ? [src, transform, sink] : [src, sink];
      pipeline(...stages, (err) => (err ? reject(err) : resolve()));
    });
  },
  // WHATWG web streams: Readable.toWeb(rs).pipeTo(Writable.toWeb(res)) (Node's own table has them at
  // about half classic streams' speed); a transform goes through Duplex.toWeb.
  async "node-webstreams"({ readable, sink }) {
    await Readable.toWeb(readable).pipeTo(Writable.toWeb(sink));
  },
  // Bun's own file API: Bun.file(path).stream(), a ReadableStream of Bun's own chunks, piped to the sink.
  async "bun-file"({ source, transform, sink, stats, job, notes }) {
    let stream = globalThis.Bun.file(source).stream();
    if (transform) stream = stream.pipeThrough(Duplex.toWeb(transform));
    await stream.pipeTo(Writable.toWeb(sink));
    sourceSizeMoved(stats, job, notes);
  },
  // Bun.write(destination, Bun.file(path)): Bun's one-call copy into the sink's descriptor (its own
  // syscalls: copy_file_range or sendfile where it can), no stream in JavaScript at all.
  async "bun-write"({ source, sink, stats, job, notes }) {
    const written = await globalThis.Bun.write(globalThis.Bun.file(job.sink_fd), globalThis.Bun.file(source));
    notes.bun_write_bytes = written;
    stats.moved = written;
    sink.destroy();
  },
  // Deno's own file API: (await Deno.open(path)).readable, a ReadableStream, piped to the sink.
  async "deno-file"({ source, transform, sink, stats, job, notes }) {
    const file = await globalThis.Deno.open(source, { read: true });
    let stream = file.readable;
    if (transform) stream = stream.pipeThrough(Duplex.toWeb(transform));
    await stream.pipeTo(Writable.toWeb(sink));
    sourceSizeMoved(stats, job, notes);
  },
  // for await (const chunk of src) { if (!res.write(chunk)) await once(res, 'drain') }
  async "node-async-iter"({ readable, sink, t0, stats }) {
    stats.pauses = 0;
    stats.drains = 0;
    stats.maxBuffered = 0;
    const done = finished(sink);
    for await (const c of readable) {
      if (!sink.write(c)) {
        stats.pauses += 1;
        sawBuffered(stats, sink, t0);
        await once(sink, "drain");
        stats.drains += 1;
      }
    }
    sink.end();
    await done;
  },
  // The seeds' counterexample: rs.on('data', c => res.write(c)), write()'s false ignored; whatever the
  // consumer has not taken queues in the writable (the stream doctor's "no backpressure").
  async "node-unbounded"({ readable, sink, t0, stats }) {
    await dataLoop(readable, sink, t0, stats, { honour: false });
  },
  // Planted faults for the stream doctor (node-fault:kind=...): each is a mistake the seeds warn of.
  async "node-fault"({ source, readable, sink, t0, stats, job }) {
    const kind = job.strategy_options?.kind ?? "sync-gzip";
    if (kind === "sync-read") {
      // readFileSync inside the request: the loop waits for the whole file, then holds it.
      const done = finished(sink);
      readable.destroy();
      stats.source = null;
      const buf = fs.readFileSync(source);
      stats.moved = buf.length;
      sink.end(buf);
      return done;
    }
    if (kind !== "sync-gzip") throw new Error(`unknown node-fault kind ${kind}`);
    // gzipSync at level 9 on every chunk, on the loop thread (the output is thrown away: the bytes
    // sent are the chunk's, so they are checked as a copy's); backpressure honoured.
    const work = (c) => zlib.gzipSync(c, { level: 9 });
    return dataLoop(readable, sink, t0, stats, { honour: true, work });
  },
};


// A native file API's stream says nothing of the bytes it read: the count is the source's, and the far
// end checks every byte (a short copy is never verified).
function sourceSizeMoved(stats, job, notes) {
  stats.moved = job.size_bytes;
  notes.bytes_moved_from = "the source's size (the runtime's file stream counts nothing; the far end checks)";
}

// Strategies that open the file themselves (and a user's module opens its own: it is given the path).
const OWN_SOURCE = new Set(["node-readfile", "node-pipeline", "bun-file", "bun-write", "deno-file"]);

// The readable a strategy reads (the file, through the transform when there is one).
export function openSource(job, transform, stats) {
  if (OWN_SOURCE.has(job.strategy) || job.user_module) return null;
  const src = fs.createReadStream(job.source_path, { highWaterMark: job.chunk_bytes });
  stats.source = src;
  if (!transform) return src;
  src.on("error", (e) => transform.destroy(e));
  return src.pipe(transform);
}
