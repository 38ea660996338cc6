// The Node.js HTTP server under test: the seed's video endpoint, and the same with Range support.
//
// `node harness/node/server.mjs --listen-fd N --result-fd N --control-fd N --file PATH --strategy S
//  --chunk-bytes N [--rss-interval S]` speaks the protocol of harness/http/server_child.py: it serves on
// the 127.0.0.1 socket the parent made, writes {"event": "ready", ...} on the result fd, stops on EOF
// (or "stop") on the control fd, and writes one {"event": "report", ...} line with its own memory
// (VmHWM after clear_refs, sampled RssAnon/RssFile peaks), CPU and counters.
//
// GET /stats answers the counters, live: bytes_sent counts bodies still being written, and
// requests_log (first REQUEST_LOG_MAX requests) says per request its page (?page=), Range header,
// status, start (CLOCK_MONOTONIC seconds, the harness's clock) and bytes sent so far.
// ?missing=1 asks for a file that does not exist (the seeds' "error handling" point).
//
// Strategies (GET /file?strategy= picks one, else --strategy):
//   node-pipe      the seed verbatim in spirit: fs.createReadStream(file).pipe(res); no Range (200 and
//                  the whole file, whatever was asked), no 'error' handler on the stream: a missing
//                  file ends the process, as the seed's would.
//   node-pipeline  Range-aware (206 with Content-Range, 416 with bytes */size; a malformed or
//                  multi-range header is ignored, as RFC 9110 allows) and stream.pipeline(rs, res, cb);
//                  a missing file is a 404 and the server goes on.

import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { pipeline } from "node:stream";

import { engineNotes, sectionFigures, usageNow } from "./strategies.mjs";

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, "")] = argv[i + 1];
  return out;
}
const a = args(process.argv.slice(2));
// A runtime whose node:fs cannot use an inherited descriptor (Bun, Deno) opens the same pipe again.
const reopen = a["reopen-fds"] === "1";
const inherit = (fd, flags) => (reopen && fd >= 0 ? fs.openSync(`/proc/self/fd/${fd}`, flags) : fd);
const resultFd = inherit(Number(a["result-fd"]), "w");
const controlFd = Number(a["control-fd"] ?? -1);
const file = a.file;
const defaultStrategy = a.strategy || "node-pipeline";
const chunkBytes = Number(a["chunk-bytes"] || 65536);
const sampleMs = Number(a["rss-interval"] || 0.01) * 1000;

function readStatus() {
  const out = {};
  for (const line of fs.readFileSync("/proc/self/status", "utf8").split("\n")) {
    const m = line.match(/^(\w+):\s+(\d+)\s+kB/);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}
const writeLine = (obj) => {
  const data = Buffer.from(`${JSON.stringify(obj)}\n`);
  for (let off = 0; off < data.length; ) off += fs.writeSync(resultFd, data, off);
};

const counters = { requests: 0, errors: 0, bytes_sent: 0, status: {}, pauses: 0, max_buffered_bytes: 0, error_messages: [] };
const REQUEST_LOG_MAX = 200;
const requestLog = []; // {page, range, status, started_at, bytes(): sent so far}
const open = new Set(); // responses still being written: their bytes count live
const monotonicS = () => Number(process.hrtime.bigint()) / 1e9;
const liveBytes = () => {
  let n = counters.bytes_sent;
  for (const entry of open) n += entry.bytes();
  return n;
};
const sawStatus = (s) => (counters.status[s] = (counters.status[s] || 0) + 1);

// One range, RFC 9110: "bytes=a-b", "bytes=a-", "bytes=-n"; anything else is ignored (200).
function parseRange(header, size) {
  if (!header) return { status: 200, start: 0, length: size };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return { status: 200, start: 0, length: size };
  let start;
  let end;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return { status: 416 };
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return { status: 200, start: 0, length: size };
  }
  if (start >= size) return { status: 416 };
  return { status: 206, start, length: end - start + 1 };
}

function track(res) {
  // What the response holds in user space: the writable's queue, as pause/drain would see it.
  const timer = setInterval(() => {
    if (res.writableLength > counters.max_buffered_bytes) counters.max_buffered_bytes = res.writableLength;
    if (res.writableNeedDrain) counters.pauses += 1;
  }, 5);
  res.on("close", () => clearInterval(timer));
}

const SERVE = {
  "node-pipe"(req, res, path, entry) {
    let size = null;
    try {
      size = fs.statSync(path).size;
    } catch {} // the seed never looks: the read stream's unhandled 'error' is what ends it
    res.writeHead(200, { "Content-Type": "video/mp4", ...(size === null ? {} : { "Content-Length": size }) });
    sawStatus(200);
    entry.status = 200;
    track(res);
    fs.createReadStream(path, { highWaterMark: chunkBytes }).pipe(res); // the seed, no 'error' handler
  },
  "node-pipeline"(req, res, path, entry) {
    fs.stat(path, (err, st) => {
      if (err) {
        sawStatus(404);
        entry.status = 404;
        res.writeHead(404);
        return res.end("not found\n");
      }
      servePipeline(req, res, path, st.size, entry);
    });
  },
};

function servePipeline(req, res, path, size, entry) {
  const r = parseRange(req.headers.range, size);
  entry.status = r.status;
  sawStatus(r.status);
  if (r.status === 416) {
    res.writeHead(416, { "Content-Range": `bytes */${size}` });
    return res.end("range not satisfiable\n");
  }
  const headers = { "Content-Type": "video/mp4", "Accept-Ranges": "bytes", "Content-Length": r.length };
  if (r.status === 206) headers["Content-Range"] = `bytes ${r.start}-${r.start + r.length - 1}/${size}`;
  res.writeHead(r.status, headers);
  if (req.method === "HEAD" || r.length === 0) return res.end();
  track(res);
  const rs = fs.createReadStream(path, { start: r.start, end: r.start + r.length - 1, highWaterMark: chunkBytes });
  pipeline(rs, res, (err) => {
    if (err && err.code !== "ERR_STREAM_PREMATURE_CLOSE") {
      counters.errors += 1;
      if (counters.error_messages.length < 20) counters.error_messages.push(String(err.message));
    }
  });
}

const server = http.createServer((req, res) => {
  counters.requests += 1;
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/stats") {
    const log = requestLog.map(({ bytes, ...rest }) => ({ ...rest, bytes_sent: bytes() }));
    res.writeHead(200, { "Content-Type": "application/json" });
    return res.end(JSON.stringify({ ...counters, bytes_sent: liveBytes(), requests_log: log, rss_bytes: readStatus().VmRSS }));
  }
  if (url.pathname !== "/file") {
    sawStatus(404);
    res.writeHead(404);
    return res.end("not found\n");
  }
  const serve = SERVE[url.searchParams.get("strategy") || defaultStrategy];
  if (!serve) {
    sawStatus(400);
    res.writeHead(400);
    return res.end("unknown strategy\n");
  }
  // Bytes sent: what the socket took since this response began, live until the response closes
  // (finished or cut off by the browser: both count).
  const socket = res.socket;
  const before = socket.bytesWritten;
  let final = null;
  const entry = {
    page: url.searchParams.get("page"),
    range: req.headers.range ?? null,
    status: null,
    started_at: monotonicS(),
    bytes: () => (final ?? socket.bytesWritten - before),
  };
  open.add(entry);
  res.on("close", () => {
    final = socket.bytesWritten - before;
    open.delete(entry);
    counters.bytes_sent += final;
  });
  if (requestLog.length < REQUEST_LOG_MAX) requestLog.push(entry);
  const path = url.searchParams.get("missing") ? `${file}.missing` : file;
  serve(req, res, path, entry);
});
server.keepAliveTimeout = 30_000;

// Peaks sampled beside VmHWM (which is exact but says nothing of anon vs file-backed).
const peaks = { RssAnon: 0, RssFile: 0 };
let samples = 0;
const sample = () => {
  const s = readStatus();
  samples += 1;
  for (const k of Object.keys(peaks)) if ((s[k] ?? 0) > peaks[k]) peaks[k] = s[k];
};

// --- native servers: Bun.serve and Deno.serve, the fetch-style API each runtime has of its own -------

// What a native response body is: Bun's own file slice (its sendfile path; the bytes it sends are
// counted as the Content-Length it promised, Bun does not say more), or Deno's file readable cut to the
// range and counted chunk by chunk.
async function nativeBody(path, start, length, entry) {
  if (globalThis.Bun) {
    entry.bytes = () => length;
    return globalThis.Bun.file(path).slice(start, start + length);
  }
  const f = await globalThis.Deno.open(path, { read: true });
  await f.seek(start, globalThis.Deno.SeekMode.Start);
  let left = length;
  let sent = 0;
  entry.bytes = () => sent;
  const cut = new TransformStream({
    transform(chunk, controller) {
      if (left <= 0) return;
      const piece = chunk.byteLength > left ? chunk.subarray(0, left) : chunk;
      left -= piece.byteLength;
      sent += piece.byteLength;
      controller.enqueue(piece);
      if (left <= 0) controller.terminate();
    },
  });
  return f.readable.pipeThrough(cut);
}

async function nativeHandler(request) {
  counters.requests += 1;
  const url = new URL(request.url);
  if (url.pathname === "/stats") {
    const log = requestLog.map(({ bytes, ...rest }) => ({ ...rest, bytes_sent: bytes() }));
    return Response.json({ ...counters, bytes_sent: liveBytes(), requests_log: log, rss_bytes: readStatus().VmRSS });
  }
  const path = url.searchParams.get("missing") ? `${file}.missing` : file;
  let size;
  try {
    size = url.pathname === "/file" ? fs.statSync(path).size : null;
  } catch {
    size = null;
  }
  if (size === null) {
    sawStatus(404);
    return new Response("not found\n", { status: 404 });
  }
  const r = parseRange(request.headers.get("range"), size);
  const entry = { page: url.searchParams.get("page"), range: request.headers.get("range"), status: r.status,
                  started_at: monotonicS(), bytes: () => 0 };
  sawStatus(r.status);
  if (requestLog.length < REQUEST_LOG_MAX) requestLog.push(entry);
  if (r.status === 416) return new Response("range not satisfiable\n", { status: 416, headers: { "Content-Range": `bytes */${size}` } });
  const headers = { "Content-Type": "video/mp4", "Accept-Ranges": "bytes", "Content-Length": String(r.length) };
  if (r.status === 206) headers["Content-Range"] = `bytes ${r.start}-${r.start + r.length - 1}/${size}`;
  if (request.method === "HEAD" || r.length === 0) return new Response(null, { status: r.status, headers });
  open.add(entry);
  const done = () => {
    if (open.delete(entry)) counters.bytes_sent += entry.bytes();
  };
  request.signal?.addEventListener("abort", done);
  const body = await nativeBody(path, r.start, r.length, entry);
  // Closed when the runtime has taken the whole body (or the viewer went away: the abort above).
  if (body instanceof ReadableStream) {
    return new Response(body.pipeThrough(new TransformStream({ flush: done })), { status: r.status, headers });
  }
  setTimeout(done, 0);
  return new Response(body, { status: r.status, headers });
}

// Listens as the strategy says: node:http on the socket the parent made (else 127.0.0.1 port 0, a
// runtime that cannot listen on an inherited one), or the runtime's native server on port 0.
function listen(onReady) {
  if (defaultStrategy === "bun-serve") {
    const native = globalThis.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: nativeHandler });
    onReady(native.port, () => native.stop(true));
  } else if (defaultStrategy === "deno-serve") {
    const native = globalThis.Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => onReady(port, () => native.shutdown()) },
      nativeHandler,
    );
  } else {
    const where = a["listen-fd"] != null ? { fd: Number(a["listen-fd"]) } : { port: Number(a.port), host: "127.0.0.1" };
    server.listen(where, () =>
      onReady(server.address().port, () => {
        server.close();
        server.closeAllConnections?.();
      }),
    );
  }
}

listen((port, close) => {
  let peakReset = true;
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    peakReset = false;
  }
  const baseline = readStatus();
  const ru0 = usageNow();
  sample();
  const sampler = setInterval(sample, sampleMs);
  const startedAt = Number(process.hrtime.bigint()) / 1e9;
  writeLine({ event: "ready", pid: process.pid, port, started_at: startedAt, runtime: engineNotes().runtime });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const stoppedAt = Number(process.hrtime.bigint()) / 1e9;
    close();
    clearInterval(sampler);
    sample();
    const ru1 = usageNow();
    const final = readStatus();
    writeLine({
      event: "report",
      pid: process.pid,
      ...engineNotes(),
      // The measured section's figures under the contract's keys (harness/measure/report.py).
      section: {
        ...sectionFigures({ startedAt, endedAt: stoppedAt, ru0, ru1, baseline, final, peakReset }),
        sampled_peak_rss_anon_bytes: peaks.RssAnon,
        sampled_peak_rss_file_bytes: peaks.RssFile,
      },
      rss_samples: samples,
      requests: counters.requests,
      errors: counters.errors,
      pauses: counters.pauses,
      max_buffered_bytes: counters.max_buffered_bytes,
      bytes_sent: liveBytes(),
      status: counters.status,
      error_messages: counters.error_messages,
    });
    fs.closeSync(resultFd);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  if (controlFd >= 0) {
    const control = reopen
      ? fs.createReadStream(`/proc/self/fd/${controlFd}`)
      : new net.Socket({ fd: controlFd, readable: true, writable: false });
    control.on("data", (d) => String(d).includes("stop") && stop());
    control.on("end", stop);
    control.on("error", stop);
  }
});
