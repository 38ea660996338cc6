// One Node strategy run with no harness around it: what bench-overhead times the harness against.
//
// `node harness/node/standalone.mjs STRATEGY SOURCE DEST CHUNK_BYTES [--noop]` opens DEST (existing,
// overwritten in place) and runs the strategy once, exactly as the worker would, with no probes,
// no consumer and no report. `--noop` does all the same imports and opens and moves nothing:
// hyperfine's time for it is Node's start, which the comparison subtracts.

import fs from "node:fs";

import { finished, makeTransform, newStats, openSink, openSource, STRATEGIES } from "./strategies.mjs";

const [strategy, source, dest, chunk, noop] = process.argv.slice(2);
const job = {
  strategy,
  source_path: source,
  sink: "file",
  sink_fd: fs.openSync(dest, "r+"),
  chunk_bytes: Number(chunk),
  high_water_mark_bytes: 0,
  transform: "none",
};
const stats = newStats();
const sink = openSink(job, job.chunk_bytes);
const readable = noop ? null : openSource(job, await makeTransform(job, {}), stats);
if (noop) {
  const done = finished(sink);
  sink.end();
  await done;
} else {
  await STRATEGIES[strategy]({ source, readable, transform: null, sink, t0: 0, stats, job });
}
