// The seeds' stream code, shared by the measured worker (worker.mjs) and the bare standalone run
// (standalone.mjs) that bench-overhead times against it. node: built-ins only.

import crypto from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { pipeline, Transform } from "node:stream";
import { pathToFileURL } from "node:url";
import zlib from "node:zlib";

const BUFFERED_TIMELINE_MAX = 2000;
// CLOCK_MONOTONIC, in seconds: the same clock as the parent's time.monotonic().
export const monotonic = () => Number(process.hrtime.bigint()) / 1e9;

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
      sawBuffered(stats, sink, t0);
    });
    readable.on("end", () => sink.end());
    readable.on("error", (e) => sink.destroy(e));
    await done;
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
};


// The readable a strategy reads (the file, through the transform when there is one).
export function openSource(job, transform, stats) {
  // These open their own (and a user's module opens its own: it is given the path).
  if (job.strategy === "node-readfile" || job.strategy === "node-pipeline" || job.user_module) return null;
  const src = fs.createReadStream(job.source_path, { highWaterMark: job.chunk_bytes });
  stats.source = src;
  if (!transform) return src;
  src.on("error", (e) => transform.destroy(e));
  return src.pipe(transform);
}
