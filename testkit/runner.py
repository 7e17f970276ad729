"""A process whose merged output a test reads line by line as it comes: the Multi-App Run
runner (`python -m sidecar.runner -f …`), or a launcher in front of it (`make run`, the
demo). Tests of stopping need the pipe itself (who holds it open, what happens when its
reader goes), so this one reads a pipe where `ManagedProcess` writes a log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from testkit.polling import wait_until


@dataclass
class RunnerProcess:
    """The runner (or its launcher), with its merged stdout/stderr collected line by line."""

    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @classmethod
    def start(cls, run_file: Path, *extra: str) -> RunnerProcess:
        return cls.reading(
            [sys.executable, "-m", "sidecar.runner", "-f", str(run_file), *extra], run_file.parent
        )

    @classmethod
    def reading(
        cls, argv: list[str], cwd: Path, close_after: str = "", *, own_session: bool = False
    ) -> RunnerProcess:
        """Starts `argv` (the runner, or a launcher that copies the runner's output); with
        `close_after`, the reading ends and the pipe's read end closes after that text; with
        `own_session`, it runs in a session of its own, as from a terminal of its own."""
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=own_session,
        )
        runner = cls(process)
        runner.reader = threading.Thread(target=runner._read, args=(close_after,), daemon=True)
        runner.reader.start()
        return runner

    def _read(self, close_after: str) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            if close_after and close_after in self.lines[-1]:
                self.process.stdout.close()
                return

    def output(self, last: int | None = None) -> str:
        return "\n".join(self.lines if last is None else self.lines[-last:])

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first line containing `text`, once it came."""
        return self.lines[self.wait_for_index(text, timeout)]

    def wait_for_index(self, text: str, timeout: float = 60) -> int:
        """The index of the first line containing `text`, once it came."""

        def seen() -> int | None:
            index = next((i for i, line in enumerate(list(self.lines)) if text in line), None)
            if index is None and self.process.poll() is not None:
                raise AssertionError(f"exited before {text!r}:\n{self.output(80)}")
            return None if index is None else index + 1  # 0 would read as "not yet"

        try:
            return wait_until(seen, timeout=timeout, what=repr(text)) - 1
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{self.output(80)}") from None

    def wait_exit(self, timeout: float = 60) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"runner still running:\n{self.output()}") from None
        # The reader thread sees EOF once every writer of the pipe is gone.
        assert self.reader is not None
        self.reader.join(timeout=10)
        assert not self.reader.is_alive(), "something still holds the runner's stdout open"
        return code

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]

    def stop(self, timeout: float = 30) -> None:
        """After a failed test: SIGTERM (a runner stops its apps first), then SIGKILL to its
        whole process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
