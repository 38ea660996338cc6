"""A thread that samples this process's own RSS: for measured children no parent watches closely."""

from __future__ import annotations

import threading

from streambench.harness.measure.probes import read_status


class RssSampler(threading.Thread):
    """Peaks of this process's RssAnon, RssFile and VmRSS, sampled every ``interval_s``."""

    def __init__(self, interval_s: float) -> None:
        super().__init__(name="streambench-rss-sampler", daemon=True)
        self.interval_s = interval_s
        self.peaks: dict[str, int] = {}
        self.samples = 0
        self._stop_event = threading.Event()

    def sample(self) -> None:
        status = read_status()
        self.samples += 1
        for key in ("RssAnon", "RssFile", "VmRSS"):
            if key in status and status[key] > self.peaks.get(key, -1):
                self.peaks[key] = status[key]

    def start(self) -> None:
        self.sample()
        super().start()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()
