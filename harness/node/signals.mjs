// The stream doctor's signals, started around a measured section: shared by the measured worker
// (worker.mjs) and the benchmark of their own cost (signals_cost.mjs), so what is measured is what runs.
//
// No npm dependency: node: built-ins only.

import { PerformanceObserver, performance } from "node:perf_hooks";

// The stream doctor's signals (harness/results/diagnosis.py): event-loop delay (a 5 ms interval
// timer's lateness, the same probe on every runtime: monitorEventLoopDelay misses a block that starts
// the section on Node 20 and reports only the excess on Bun and Deno), event-loop utilisation and GC
// pauses, over the section. Cheap enough to stay on (STREAMBENCH_SIGNALS=0 turns them off, to measure
// that); a runtime without one of them leaves its figures out.
// Their cost, measured (`streambench bench-signals`, 20 rounds A B B A): under 1% of a busy section
// on Node 20 and 22 (the interval's upper end 2.7%), 0% on Bun, 1.3% on Deno; but a 5 ms timer wakes
// an idle loop 200 times a second, ~150 us each on this VM, so a section that waits (a slow
// consumer) pays ~3% of a core for them in its CPU figures. A 10 ms probe halves that and reads a
// block up to 10 ms short (the sync-gzip fault read 19-31 ms against 29-31): kept at 5.
const LOOP_PROBE_MS = 5;
export function startSignals() {
  const which = process.env.STREAMBENCH_SIGNALS ?? "all"; // "0": none; "loop": no GC observer
  if (which === "0") return () => ({ signals: "off" });
  const lags = [];
  let expected = performance.now() + LOOP_PROBE_MS;
  const probe = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - expected));
    expected = now + LOOP_PROBE_MS;
  }, LOOP_PROBE_MS);
  probe.unref?.();
  let elu0 = null;
  try {
    elu0 = performance.eventLoopUtilization();
  } catch {
    elu0 = null;
  }
  const gc = { count: 0, pause_ms: 0 };
  let observer = null;
  try {
    if (which === "loop") throw new Error("GC observer off");
    observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gc.count += 1;
        gc.pause_ms += e.duration;
      }
    });
    observer.observe({ entryTypes: ["gc"] });
  } catch {
    observer = null;
  }
  return () => {
    const out = {};
    clearInterval(probe);
    // The time since the last tick counts too: a block that ends the section is still a block.
    lags.push(Math.max(0, performance.now() - expected));
    lags.sort((x, y) => x - y);
    const at = (q) => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] / 1e3;
    out.loop_delay_p50_s = at(0.5);
    out.loop_delay_p99_s = at(0.99);
    out.loop_delay_max_s = lags[lags.length - 1] / 1e3;
    out.loop_delay_samples = lags.length;
    if (elu0) {
      try {
        out.loop_utilization = performance.eventLoopUtilization(elu0).utilization;
      } catch {
        // absent, as above
      }
    }
    if (observer) {
      for (const e of observer.takeRecords?.() ?? []) {
        gc.count += 1;
        gc.pause_ms += e.duration;
      }
      observer.disconnect();
      out.gc_count = gc.count;
      out.gc_pause_s = gc.pause_ms / 1e3;
    }
    return out;
  };
}
