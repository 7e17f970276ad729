"""Owns the processes: starts each sidecar, then its app; stops them all together.

Every process gets its own process group, so stopping one also stops whatever it spawned
(`npm start`, `sh -c ...`), and a Ctrl-C in the terminal reaches only the runner, which
then stops apps before sidecars: apps may still talk to their sidecar while shutting down.
The first process to exit while nothing asked it to ends the whole run: a partial run
(an app without its sidecar, or a saga missing one participant) is never useful.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sidecar.runner import daprd, groups, lifeline, probes
from sidecar.runner.output import Sink, prefix, pump
from sidecar.runner.plan import Launch

_POLL = 0.05
# SIGHUP: the terminal the runner was started from closed.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Timeouts:
    sidecar_ready: float = 30.0
    app_ready: float = 60.0
    grace: float = 10.0


class StartupError(Exception):
    """A process could not be started or did not come up in time."""


@dataclass
class Child:
    app_id: str
    role: str  # "app" or "sidecar"
    process: asyncio.subprocess.Process
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"app '{self.app_id}'" if self.role == "app" else f"sidecar of app '{self.app_id}'"

    @property
    def running(self) -> bool:
        return self.process.returncode is None


class Supervisor:
    def __init__(
        self,
        launches: Sequence[Launch],
        timeouts: Timeouts,
        sink: Sink,
        parent: int | None = None,
    ) -> None:
        """`parent`: the process id of whoever started the runner, which it outlives
        only to stop everything (None: the runner does not watch its parent)."""
        self._launches = launches
        self._timeouts = timeouts
        self._sink = sink
        self._parent = parent
        self._children: list[Child] = []
        self._spawning: set[asyncio.Task[Child]] = set()
        self._done = asyncio.Event()
        self._hurry = asyncio.Event()
        self._exit_code = 0
        self._reason = ""

    async def run(self) -> int:
        """Runs until a signal or an unexpected exit; returns the runner's exit code."""
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        startup = asyncio.create_task(self._start_all())
        watch = asyncio.create_task(self._watch_parent())
        try:
            await self._done.wait()
        finally:
            for task in (startup, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._shutdown()
            for sig in _STOP_SIGNALS:
                loop.remove_signal_handler(sig)
        if self._exit_code:
            self._sink.notice(f"error: {self._reason}")
        else:
            self._sink.notice("stopped")
        return self._exit_code

    def _finish(self, reason: str, exit_code: int) -> None:
        """Records why the run ends; only the first reason counts."""
        if self._done.is_set():
            return
        self._reason, self._exit_code = reason, exit_code
        self._done.set()
        self._sink.notice(f"{reason}; stopping all apps")

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._done.is_set():
            self._hurry.set()
            self._sink.notice(f"{sig.name} again: killing everything now")
        else:
            self._finish(f"received {sig.name}", 0)

    async def _watch_parent(self) -> None:
        if self._parent is None:
            return
        await lifeline.parent_gone(self._parent)
        self._finish(f"the process that started the runner ({self._parent}) is gone", 1)

    async def _start_all(self) -> None:
        """Starts the apps side by side; the first failure cancels the other startups."""
        failure = ""
        try:
            async with asyncio.TaskGroup() as group:
                for launch in self._launches:
                    group.create_task(self._start(launch))
        except* StartupError as errors:
            failure = str(errors.exceptions[0])
        except* Exception as errors:  # a bug in the runner must still stop everything
            failure = f"internal error: {errors.exceptions[0]!r}"
        if failure:
            self._finish(failure, 1)
        elif not self._done.is_set():
            self._sink.notice(f"all {len(self._launches)} apps are running; Ctrl-C stops them")

    async def _start(self, launch: Launch) -> None:
        sidecar = await self._spawn(
            launch, "sidecar", launch.sidecar_argv, launch.sidecar_env, launch.cwd
        )
        token = launch.sidecar_env.get("DAPR_API_TOKEN")
        if launch.runtime == "daprd":
            ready = probes.daprd_up(launch.host, launch.http_port, daprd.READY_PATH)
        else:
            ready = probes.sidecar_up(launch.host, launch.grpc_port, launch.http_port, token)
        await self._wait(sidecar, ready, self._timeouts.sidecar_ready, "answer")
        if not launch.app_argv:
            self._sink.notice(f"sidecar of app '{launch.app_id}' is up (no command to run)")
            return
        app = await self._spawn(launch, "app", launch.app_argv, launch.app_env, launch.cwd)
        if launch.app_port is not None:
            opened = probes.port_open("127.0.0.1", launch.app_port)
            await self._wait(app, opened, self._timeouts.app_ready, "open its port")
        ports = f"dapr grpc {launch.grpc_port}, dapr http {launch.http_port}"
        if launch.app_port is not None:
            ports += f", app port {launch.app_port}"
        self._sink.notice(f"app '{launch.app_id}' is up ({ports})")

    async def _wait(self, child: Child, probe: probes.Probe, limit: float, what: str) -> None:
        """Returns once `probe` passes; raises if the deadline passes or the process exits."""
        deadline = time.monotonic() + limit
        while True:
            if child.process.returncode is not None:
                raise StartupError(_exit_reason(child, child.process.returncode)[0])
            if await probe():
                return
            if time.monotonic() > deadline:
                raise StartupError(f"{child.name} did not {what} within {limit:g}s")
            await asyncio.sleep(_POLL)

    async def _spawn(
        self, launch: Launch, role: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path
    ) -> Child:
        """Starts a process; shielded so that a cancelled startup never leaks an
        unregistered child."""
        task = asyncio.create_task(self._spawn_now(launch.app_id, role, argv, env, cwd))
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)
        return await asyncio.shield(task)

    async def _spawn_now(
        self, app_id: str, role: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path
    ) -> Child:
        if self._done.is_set():
            raise StartupError("stopping")
        try:
            process = await asyncio.create_subprocess_exec(
                *lifeline.dies_with_this_process(argv, cwd),
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            name = f"app '{app_id}'" if role == "app" else f"sidecar of app '{app_id}'"
            raise StartupError(f"{name}: cannot run {argv[0]!r}: {error.strerror}") from None
        child = Child(app_id, role, process)
        self._children.append(child)
        assert process.stdout is not None
        child.tasks = [
            asyncio.create_task(pump(process.stdout, prefix(role, app_id), self._sink)),
            asyncio.create_task(self._watch(child)),
        ]
        return child

    async def _watch(self, child: Child) -> None:
        code = await child.process.wait()
        if not self._done.is_set():
            self._finish(*_exit_reason(child, code))

    async def _shutdown(self) -> None:
        if self._spawning:
            await asyncio.gather(*self._spawning, return_exceptions=True)
        await self._stop([c for c in self._children if c.role == "app"])
        await self._stop([c for c in self._children if c.role == "sidecar"])
        tasks = [task for child in self._children for task in child.tasks]
        # Output ends when every writer of the pipe is gone; a stray grandchild that
        # escaped its group must not keep the runner alive.
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=2)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _stop(self, children: list[Child]) -> None:
        """SIGTERM to each group, up to the grace period for them to go, then SIGKILL."""
        if not children:
            return
        for child in children:
            groups.send(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._timeouts.grace
        while any(c.running or groups.alive(c.process.pid) for c in children):
            if time.monotonic() > deadline or self._hurry.is_set():
                break
            await asyncio.sleep(_POLL)
        for child in children:
            if child.running or groups.alive(child.process.pid):
                self._sink.notice(f"{child.name} did not stop in time: killing it")
                groups.send(child.process.pid, signal.SIGKILL)
        await asyncio.gather(*(c.process.wait() for c in children))


def _exit_reason(child: Child, code: int) -> tuple[str, int]:
    """Why the run ends when `child` exits unasked, and the runner's exit code: an app that
    finishes with 0 ends the run successfully (a driver app can decide a CI run)."""
    if code < 0:
        return f"{child.name} was killed by {signal.Signals(-code).name}", 1
    if child.role == "app" and code == 0:
        return f"{child.name} finished (exit code 0)", 0
    return f"{child.name} exited with code {code}", 1
