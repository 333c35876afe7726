"""The LRS under test, as a separate `lrs serve` process tree, and its resource use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

ADMIN_KEY = "bench-admin"
ADMIN_SECRET = "bench-admin-secret"  # noqa: S105 - a throwaway local benchmark server


class Server:
    """`lrs serve` on a port, sampled for peak RSS per process while it runs."""

    def __init__(
        self,
        database_url: str,
        port: int,
        workers: int,
        log: Path,
        settings: dict[str, str] | None = None,
    ) -> None:
        """`settings`: more LRS_ variables for the server."""
        self.url = f"http://127.0.0.1:{port}"
        environment = {
            **os.environ,
            "LRS_DATABASE_URL": database_url,
            "LRS_ADMIN_KEY": ADMIN_KEY,
            "LRS_ADMIN_SECRET": ADMIN_SECRET,
            "LRS_RETENTION_INTERVAL_SECONDS": "0",
            **(settings or {}),
        }
        command = [
            str(Path(sys.executable).parent / "lrs"), "serve", "--port", str(port),
            "--workers", str(workers),
        ]  # fmt: skip
        self._log = log.open("w")
        # A session of its own, so that a signal reaches the workers too (`kill`).
        self._process = subprocess.Popen(  # noqa: S603 - our own command
            command,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._peak_rss: dict[int, int] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._wait_healthy()
        self._sampler.start()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self._log.name}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become healthy in 60 s")

    def _processes(self) -> list[psutil.Process]:
        parent = psutil.Process(self._process.pid)
        return [parent, *parent.children(recursive=True)]

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for process in self._processes():
                try:
                    rss = process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                self._peak_rss[process.pid] = max(self._peak_rss.get(process.pid, 0), rss)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far."""
        total = 0.0
        for process in self._processes():
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def peak_worker_rss_mb(self) -> float:
        """The largest peak RSS of one serving process (a worker, or the only process)."""
        workers = [pid for pid in self._peak_rss if pid != self._process.pid]
        pids = workers or list(self._peak_rss)
        return max(self._peak_rss[pid] for pid in pids) / 2**20

    def send_signal(self, signum: int) -> None:
        """Sends `signum` to the server (SIGTERM: the supervisor shuts its workers down)."""
        self._process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL to the server and every worker at once, as a crash or an OOM kill would."""
        os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        self._stop.set()

    def wait(self, timeout: float) -> int:
        """The server's exit status, once it has exited."""
        return self._process.wait(timeout=timeout)

    def stop(self) -> None:
        self._stop.set()
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()
