"""The one face of Dovecot: render a private configuration from settings, start, stop, reload,
query the state of the instance and run doveadm against it. Nothing else in the project shells
out to Dovecot.

The instance is private: its own base_dir (sockets, master.pid), state_dir and log inside
`DovecotConfig.directory`; it never reads /etc/dovecot. Every dovecot/doveadm call passes the
same `-c`. Authentication and quota come from the SQL views of migration mailstore 0001.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time

from mailstore import layout
from mailstore.dovecot_config import (
    DovecotConfig,
    DovecotError,
    config_from_settings,
    maildir_path,
    render,
)

__all__ = [
    "DovecotConfig",
    "DovecotError",
    "config_from_settings",
    "doveadm",
    "is_running",
    "log_tail",
    "maildir_path",
    "master_pid",
    "prepare_store",
    "reload",
    "render",
    "run_foreground",
    "start",
    "stop",
    "wait_for_ports",
]

logger = logging.getLogger(__name__)

DOVECOT_BIN = "dovecot"
DOVEADM_BIN = "doveadm"


def _run(args: list[str], *, timeout: float = 30) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DovecotError(f"{args[0]}: {exc}") from exc


def master_pid(config: DovecotConfig | None = None) -> int | None:
    config = config or config_from_settings()
    try:
        return int(config.pid_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def is_running(config: DovecotConfig | None = None) -> bool:
    pid = master_pid(config)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_tail(config: DovecotConfig | None = None, *, lines: int = 60) -> str:
    config = config or config_from_settings()
    try:
        return "\n".join(config.log_path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_for_ports(host: str, ports, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            try:
                with socket.create_connection((host, port), timeout=1):
                    break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise DovecotError(f"port {host}:{port} does not answer: {exc}") from exc
                time.sleep(0.05)


def start(config: DovecotConfig | None = None, *, timeout: float = 15.0) -> None:
    """Render the configuration and start the daemon; return once every listener answers."""
    config = config or config_from_settings()
    if is_running(config):
        raise DovecotError(f"Dovecot is already running (pid {master_pid(config)})")
    prepare_store(config)
    render(config)
    # The daemon keeps inherited descriptors open: its early errors go to a file, not to a pipe.
    errors_path = config.directory / "start-errors.log"
    try:
        with open(errors_path, "w") as errors:
            returncode = subprocess.run(  # noqa: S603
                [DOVECOT_BIN, "-c", str(config.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=errors,
                stderr=errors,
                timeout=30,
                check=False,
            ).returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DovecotError(f"dovecot: {exc}") from exc
    if returncode != 0:
        raise DovecotError(f"dovecot failed to start: {errors_path.read_text().strip()}\n{log_tail(config)}")
    try:
        # The listeners are bound before the master daemonizes, so a port that answers does not
        # mean Dovecot serves yet: also wait for master.pid and for a greeting on LMTP.
        wait_for_ports(config.bind, config.ports.values(), timeout=timeout)
        wait_until_serving(config, timeout=timeout)
    except DovecotError as exc:
        raise DovecotError(f"{exc}\n{log_tail(config)}") from exc


def wait_until_serving(config: DovecotConfig, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not is_running(config):
        if time.monotonic() > deadline:
            raise DovecotError("Dovecot did not write its master.pid")
        time.sleep(0.02)
    port = config.ports.get("lmtp")
    if port is None:
        return
    while True:
        try:
            with socket.create_connection((config.bind, port), timeout=2) as sock:
                if sock.recv(64).startswith(b"220"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise DovecotError(f"LMTP {config.bind}:{port} does not greet")
        time.sleep(0.05)


def prepare_store(config: DovecotConfig) -> None:
    """Before Dovecot serves: move homes of the old address-keyed layout to the id-keyed one
    (mailstore.layout.layout_migrate; idempotent, a no-op once done)."""
    report = layout.layout_migrate(store=config.mail_store_dir)
    if report.conflicts:
        logger.warning("old mail stores left in place (their new place exists): %s", report.conflicts)


def stop(config: DovecotConfig | None = None, *, timeout: float = 15.0) -> None:
    """Stop the daemon and wait for the master process to exit. Stopping a stopped one is a no-op."""
    config = config or config_from_settings()
    pid = master_pid(config)
    if pid is None or not is_running(config):
        return
    result = _run([DOVECOT_BIN, "-c", str(config.conf_path), "stop"])
    if result.returncode != 0:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(config):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise DovecotError(f"Dovecot (pid {pid}) did not stop in {timeout}s; killed")
        time.sleep(0.05)


def reload(config: DovecotConfig | None = None) -> None:
    """Re-render the configuration and make the running daemon read it (SIGHUP)."""
    config = config or config_from_settings()
    render(config)
    result = _run([DOVECOT_BIN, "-c", str(config.conf_path), "reload"])
    if result.returncode != 0:
        raise DovecotError(f"dovecot reload failed: {result.stderr.strip()}")


def run_foreground(config: DovecotConfig | None = None) -> None:
    """Replace this process with `dovecot -F` (for honcho / containers)."""
    config = config or config_from_settings()
    prepare_store(config)
    render(config)
    binary = shutil.which(DOVECOT_BIN)
    if not binary:
        raise DovecotError("the dovecot binary is not installed")
    os.execv(binary, [binary, "-F", "-c", str(config.conf_path)])  # noqa: S606


def doveadm(*args: str, config: DovecotConfig | None = None, timeout: float = 60) -> str:
    """Run `doveadm -c <our conf> <args>`; return stdout, raise DovecotError on failure."""
    config = config or config_from_settings()
    result = _run([DOVEADM_BIN, "-c", str(config.conf_path), *args], timeout=timeout)
    if result.returncode != 0:
        raise DovecotError(f"doveadm {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def sessions_end(login: str, config: DovecotConfig | None = None) -> bool:
    """Disconnect every IMAP, POP3 and ManageSieve session of a login (`doveadm kick`), e.g. when
    its mailbox is suspended. Best effort: with Dovecot not running there is no session to end;
    the failure is logged and False returned (logins are refused by the views anyway)."""
    config = config or config_from_settings()
    if master_pid(config) is None:
        return False
    try:
        doveadm("kick", login, config=config, timeout=10)
    except DovecotError as exc:
        logger.warning("could not end the sessions of %s: %s", login, exc)
        return False
    return True
