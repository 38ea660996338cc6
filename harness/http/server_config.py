"""The HTTP server process's one contract: what it is started with, as a dataclass and an argv."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def content_type_for(path: Path, fallback: str) -> str:
    return "video/mp4" if path.suffix.lower() == ".mp4" else fallback


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server process is started with (also its command line).

    ``hwm_bytes`` 0 means one chunk. ``idle_timeout_s`` is both the body watchdog's
    no-progress limit and aiohttp's keep-alive timeout. ``sndbuf_bytes`` sets
    SO_SNDBUF on the listener, so every connection inherits it (0: the kernel
    autotunes, up to ``tcp_wmem``'s max, 4 MiB here, which can hold a whole small
    range and end the server's part of a slow body at once).
    """

    file_path: Path
    content_type: str = "application/octet-stream"
    default_strategy: str = "sendfile"
    chunk_bytes: int = 256 << 10
    hwm_bytes: int = 0
    sndbuf_bytes: int = 0
    idle_timeout_s: float = 15.0
    csv_size_bytes: int = 64 << 20
    csv_seed: int = 0
    shutdown_timeout_s: float = 2.0
    rss_sample_interval_s: float = 0.01
    # Build the csv generator's vocabularies before "ready" (0.2 s once), so an
    # export's first byte measures the export, not the pools' first use.
    warm_csv: bool = False

    def to_argv(self) -> list[str]:
        return [
            "--file",
            str(Path(self.file_path).resolve()),
            "--content-type",
            self.content_type,
            "--strategy",
            self.default_strategy,
            "--chunk-bytes",
            str(self.chunk_bytes),
            "--hwm-bytes",
            str(self.hwm_bytes),
            "--sndbuf-bytes",
            str(self.sndbuf_bytes),
            "--idle-timeout",
            str(self.idle_timeout_s),
            "--csv-size",
            str(self.csv_size_bytes),
            "--csv-seed",
            str(self.csv_seed),
            "--shutdown-timeout",
            str(self.shutdown_timeout_s),
            "--rss-interval",
            str(self.rss_sample_interval_s),
            *(["--warm-csv"] if self.warm_csv else []),
        ]

    @property
    def served_content_type(self) -> str:
        return content_type_for(self.file_path, self.content_type)
