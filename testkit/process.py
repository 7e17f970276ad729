"""One OS process under a test's control: the kit's only process wrapper.

Sidecars, apps, the observer, benchmark peers and workers are all a `ManagedProcess`, so
every one of them is started, killed and read the same way: its output goes to a log file
(kept after the test, printed in a failure's message), `kill()` is a real `kill -9` (no
shutdown code runs, exactly like a crash), and readiness is a probe polled to a deadline,
never a sleep.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from testkit.polling import wait_until

ROOT = Path(__file__).resolve().parents[1]
STOP_TIMEOUT = 10.0


@dataclass(eq=False)
class ManagedProcess:
    """`argv` run in `cwd` with `env` (the whole environment; None: this process's own),
    its stdout and stderr appended to `log_path`; `ready` says when it serves."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path = ROOT
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 30.0
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self, *, wait: bool = True) -> Self:
        """Starts the process; with `wait`, returns once `ready` holds (see `wait_ready`)."""
        if self.running:
            raise RuntimeError(f"{self.name} is running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.name}: {shlex.join(self.argv)}\n".encode())
            log.flush()
            # A session of its own: a Ctrl-C in the terminal reaches pytest, which then
            # stops its processes in order, and never one behind the test's back.
            self.popen = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env=None if self.env is None else dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float | None = None) -> Self:
        """Polls `ready` until it holds; fails at once, with the log, if the process exits."""
        ready = self.ready
        if ready is None:
            return self

        def probe() -> bool:
            self.check_running()
            return ready()

        wait_until(probe, timeout=timeout or self.ready_timeout, what=f"{self.name} to serve")
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} never started"
        return self.popen.pid

    def check_running(self) -> None:
        """Raises, with the end of its log, when the process exited."""
        if self.popen is not None and self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.logs()}")

    def send_signal(self, sig: signal.Signals) -> None:
        assert self.popen is not None, f"{self.name} never started"
        self.popen.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Waits for the exit; returns the exit code."""
        assert self.popen is not None, f"{self.name} never started"
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.running:
            self.send_signal(signal.SIGKILL)
            self.wait()

    def terminate(self) -> None:
        """SIGTERM without waiting: to stop several processes at once (`wait_stopped` each)."""
        if self.running:
            self.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float = STOP_TIMEOUT) -> None:
        """After `terminate()`: waits for the exit, then kills what is still running."""
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, and SIGKILL when the process has not exited after `timeout` seconds."""
        self.terminate()
        self.wait_stopped(timeout)

    def restart(self) -> Self:
        """`kill -9` and start again with the same command line (so on the same ports)."""
        self.kill()
        return self.start()

    def logs(self, characters: int = 5000) -> str:
        """The end of the log, for a failure's message."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-characters:]

    def log_lines(self) -> list[dict[str, Any]]:
        """The structured log, one dict per JSON line (every process of the platform logs
        JSON lines); a line being written right now is left for the next read."""
        if not self.log_path.exists():
            return []
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
        return records


def processes_mentioning(marker: str) -> dict[int, str]:
    """Live (non-zombie) processes whose command line contains `marker`."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found[int(entry.name)] = cmdline
    return found
