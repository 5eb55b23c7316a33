"""A helper daemon (rspamd, clamd) run as a child of this process, for the tests and the benches:
started from a rendered configuration, ready once it answers, stopped with SIGTERM. Production
runs the same daemons from the Procfile (`manage.py rspamd`, `manage.py clamd`)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path


class ChildDaemon:
    """Subclasses name the daemon and say how to start it and how to tell it answers."""

    name = "daemon"
    error: type[Exception] = RuntimeError
    poll_seconds = 0.1
    log_lines = 30

    def __init__(self, config):
        self.config = config
        self.process: subprocess.Popen | None = None

    # what a subclass provides
    def prepare(self) -> None:
        """Write the configuration the command reads."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    def log_paths(self) -> list[Path]:
        return [self.config.directory / "start-errors.log", self.config.log_path]

    # the common part
    def start(self, *, timeout: float = 60.0):
        self.prepare()
        errors = open(self.config.directory / "start-errors.log", "w")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(  # noqa: S603
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=errors,
                stderr=errors,
                start_new_session=True,
            )
        except OSError as exc:
            raise self.error(f"{self.name}: {exc}") from exc
        finally:
            errors.close()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                raise self.error(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise self.error(f"{self.name} did not answer within {timeout:g} s:\n{self.log_tail()}")
            time.sleep(self.poll_seconds)
        return self

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, lines: int | None = None) -> str:
        out: list[str] = []
        for path in self.log_paths():
            try:
                out += path.read_text(errors="replace").splitlines()[-(lines or self.log_lines) :]
            except FileNotFoundError:
                pass
        return "\n".join(out) or "(no log)"
