"""The parent's side of the HTTP clients: start client processes, gather their results, fetch once."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import xxhash

from streambench.harness.common.lifeline import PARENT_PID_ENV
from streambench.harness.common.paths import PACKAGE_ROOT
from streambench.harness.http.clients_child import (
    LOOPBACK,
    MAX_PROCESSES,
    STALL_SENDS,
    ClientResult,
    ClientSpec,
    ProtocolError,
    _parse_head,
    _request_bytes,
)


class ClientRun:
    """Client processes started by ``start_clients``; ``wait()`` gathers their results."""

    def __init__(
        self,
        procs: list[tuple[subprocess.Popen[bytes], list[int]]],
        n_clients: int,
        start_at: float,
        timeout_s: float,
    ) -> None:
        self.procs = procs
        self.n_clients = n_clients
        self.start_at = start_at
        self.deadline = time.monotonic() + timeout_s

    def _drain_outputs(self) -> dict[int, bytearray]:
        """Read every process's stdout and stderr at once until EOF or the deadline.

        At once, not one process after another: a process blocked on a full stdout
        pipe would stall the clients still running on its event loop.
        """
        outputs: dict[int, bytearray] = {}
        for proc, _ in self.procs:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    outputs[stream.fileno()] = bytearray()
        open_fds = set(outputs)
        while open_fds:
            left_s = self.deadline - time.monotonic()
            if left_s <= 0:
                break
            ready, _, _ = select.select(sorted(open_fds), [], [], left_s)
            for fd in ready:
                data = os.read(fd, 1 << 16)
                if data:
                    outputs[fd] += data
                else:
                    open_fds.discard(fd)
        return outputs

    def wait(self) -> list[ClientResult]:
        """Every client's result, in spec order; a lost client gets an ``error``."""
        by_index: dict[int, ClientResult] = {}
        errors: dict[int, str] = {}
        try:
            outputs = self._drain_outputs()
            for proc, indices in self.procs:
                assert proc.stdout is not None and proc.stderr is not None
                try:
                    proc.wait(timeout=max(0.1, self.deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    for i in indices:
                        errors[i] = "client process timed out"
                for line in outputs[proc.stdout.fileno()].decode().splitlines():
                    if line.strip():
                        result = ClientResult.from_dict(json.loads(line))
                        by_index[result.index] = result
                if proc.returncode != 0:
                    tail = outputs[proc.stderr.fileno()].decode(errors="replace").strip()[-2000:]
                    for i in indices:
                        errors.setdefault(i, f"client process exited {proc.returncode}: {tail}")
        finally:
            self.kill()
        return [
            by_index.get(i) or ClientResult(index=i, error=errors.get(i, "no result"))
            for i in range(self.n_clients)
        ]

    def kill(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def start_clients(
    port: int,
    specs: list[ClientSpec],
    *,
    processes: int | None = None,
    start_margin_s: float = 0.5,
    timeout_s: float | None = None,
) -> ClientRun:
    """Start the clients in up to ``processes`` (default: up to 8) processes, round-robin.

    All start ``start_margin_s`` from now (interpreter start-up is not measured),
    each after its own ``start_delay_s``.
    """
    if not specs:
        raise ValueError("no clients")
    for spec in specs:
        if spec.stall_send not in STALL_SENDS:
            raise ValueError(f"stall_send {spec.stall_send!r}; valid: {', '.join(STALL_SENDS)}")
    n_procs = max(1, min(processes or MAX_PROCESSES, len(specs)))
    groups: list[list[int]] = [list(range(p, len(specs), n_procs)) for p in range(n_procs)]
    start_at = time.monotonic() + start_margin_s
    if timeout_s is None:
        timeout_s = (
            start_margin_s + 10.0 + max(s.start_delay_s + max(s.timeout_s, s.stall_s + 5.0) for s in specs)
        )
    env = dict(os.environ, **{PARENT_PID_ENV: str(os.getpid())})
    procs: list[tuple[subprocess.Popen[bytes], list[int]]] = []
    run = ClientRun(procs, len(specs), start_at, timeout_s)
    try:
        for indices in groups:
            job = {"port": port, "start_at": start_at, "clients": [[i, specs[i].to_dict()] for i in indices]}
            proc = subprocess.Popen(
                [sys.executable, "-m", "streambench.harness.http.clients_child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=PACKAGE_ROOT,
            )
            procs.append((proc, indices))
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
            proc.stdin = None  # communicate() must not flush it again
    except BaseException:
        run.kill()
        raise
    return run


def run_clients(
    port: int,
    specs: list[ClientSpec],
    *,
    processes: int | None = None,
    start_margin_s: float = 0.5,
    timeout_s: float | None = None,
) -> list[ClientResult]:
    """``start_clients(...).wait()``: every client's result, in spec order."""
    return start_clients(
        port, specs, processes=processes, start_margin_s=start_margin_s, timeout_s=timeout_s
    ).wait()


def expected_xxh3(path: Path, start: int = 0, length: int | None = None, block_bytes: int = 4 << 20) -> str:
    """xxh3-64 of ``length`` bytes of ``path`` from ``start`` (to the end when None)."""
    h = xxhash.xxh3_64()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        end = os.fstat(fd).st_size if length is None else start + length
        offset = start
        while offset < end:
            data = os.pread(fd, min(block_bytes, end - offset), offset)
            if not data:
                raise ValueError(f"{path} ends at {offset}, before {end}")
            h.update(data)
            offset += len(data)
    finally:
        os.close(fd)
    return str(h.hexdigest())


def fetch(
    port: int,
    target: str,
    *,
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    timeout_s: float = 5.0,
) -> tuple[int, dict[str, str], bytes]:
    """A small blocking request (``Connection: close``): (status, headers, body).

    For ``/stats`` and quick checks, not for measuring: the body is read whole.
    """
    spec = ClientSpec(target=target, method=method, headers=headers)
    with socket.create_connection((LOOPBACK, port), timeout=timeout_s) as sock:
        sock.sendall(_request_bytes(spec, port, last=True))
        chunks = []
        while data := sock.recv(1 << 16):
            chunks.append(data)
    raw = b"".join(chunks)
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ProtocolError(f"no end of headers in {len(raw)} bytes")
    status, parsed = _parse_head(head + b"\r\n")
    if "content-length" in parsed:
        body = body[: int(parsed["content-length"])]
    with contextlib.suppress(KeyError):
        if "chunked" in parsed["transfer-encoding"].lower():
            body = _dechunk(body)
    return status, parsed, body


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += data[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2
