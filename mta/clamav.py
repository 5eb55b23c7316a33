"""ClamAV, optional (MAILSUITE_CLAMAV, off by default): the suite's own clamd, asked by rspamd's
antivirus module (mta.rspamd_config renders local.d/antivirus.conf when it is on), never by the
MX itself.

    manage.py clamd                 # render MAILSUITE_CLAMAV_DIR/clamd.conf, exec clamd
    ClamdProcess(config).start()    # the tests' own clamd on a free loopback port

clamd listens on MAILSUITE_CLAMAV_SOCKET: "host:port" (loopback or an internal address, never
the public one) or the path of a Unix socket. Its signatures are read from
MAILSUITE_CLAMAV_DATABASE_DIR, which freshclam must keep up to date in production (Debian's
clamav-freshclam service writes /var/lib/clamav, the default); clamd refuses to start without
at least one signature database there.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mta.daemon import ChildDaemon

CLAMD_BIN = "/usr/sbin/clamd"
CLAMAV_USER = "clamav"  # the Debian package's system user: clamd never scans as root


class ClamavError(RuntimeError):
    """clamd could not be configured, started or asked."""


@dataclass(frozen=True)
class ClamdConfig:
    directory: Path  # clamd.conf, clamd.log, clamd.pid (and the Unix socket, if any)
    socket: str  # "host:port" or a Unix socket path
    database_dir: Path  # the signature databases (*.cvd, *.cld, *.hdb, *.ndb, ...)
    max_size: int = 50 * 1024 * 1024  # bytes scanned per stream (the MX's message size limit)

    @property
    def conf_path(self) -> Path:
        return self.directory / "clamd.conf"

    @property
    def log_path(self) -> Path:
        return self.directory / "clamd.log"

    @property
    def unix_socket(self) -> bool:
        return self.socket.startswith("/")

    @property
    def address(self) -> tuple[str, int]:
        return split_socket(self.socket)


def split_socket(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClamavError(f"MAILSUITE_CLAMAV_SOCKET must be host:port or /path/to/socket, not {value!r}")
    return host.strip("[]"), int(port)


def config_from_settings() -> ClamdConfig:
    return ClamdConfig(
        directory=Path(settings.CLAMAV_DIR),
        socket=settings.CLAMAV_SOCKET,
        database_dir=Path(settings.CLAMAV_DATABASE_DIR),
        max_size=settings.SMTP_MAX_MESSAGE_SIZE,
    )


def run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(CLAMAV_USER).pw_name
    except KeyError as exc:
        raise ClamavError(f"system user {CLAMAV_USER!r} is missing (clamav-daemon creates it)") from exc


def clamd_conf(config: ClamdConfig) -> str:
    d = config.directory
    if config.unix_socket:
        listen = f"LocalSocket {config.socket}\nLocalSocketMode 660\n"
    else:
        host, port = config.address
        listen = f"TCPSocket {port}\nTCPAddr {host}\n"
    user = run_as()
    mb = max(1, -(-config.max_size // (1024 * 1024)))
    return (
        "# Rendered by mta.clamav from Django settings. Do not edit: it is rewritten at start.\n"
        "Foreground yes\n"
        f"DatabaseDirectory {config.database_dir}\n"
        f"LogFile {d / 'clamd.log'}\n"
        "LogTime yes\n"
        f"PidFile {d / 'clamd.pid'}\n"
        + listen
        + (f"User {user}\n" if user else "")
        # Signatures changed by freshclam are reloaded (clamd checks the directory).
        + "SelfCheck 600\n"
        + f"StreamMaxLength {mb}M\nMaxScanSize {mb}M\nMaxFileSize {mb}M\n"
    )


def render(config: ClamdConfig | None = None) -> Path:
    """Write clamd.conf into config.directory (the log writable by clamd's user); return its path."""
    config = config or config_from_settings()
    if not config.database_dir.is_dir():
        raise ClamavError(f"no signature directory {config.database_dir} (run freshclam first)")
    config.directory.mkdir(parents=True, exist_ok=True)
    config.directory.chmod(0o755)
    user = run_as()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(config.directory, entry.pw_uid, grp.getgrgid(entry.pw_gid).gr_gid)
        config.log_path.touch()
        os.chown(config.log_path, entry.pw_uid, entry.pw_gid)
    tmp = config.conf_path.with_name("clamd.conf.tmp")
    tmp.write_text(clamd_conf(config))
    tmp.chmod(0o644)
    tmp.replace(config.conf_path)
    return config.conf_path


def command(config: ClamdConfig) -> list[str]:
    return [CLAMD_BIN, "-c", str(config.conf_path)]


def ping(config: ClamdConfig, timeout: float = 2.0) -> bool:
    """clamd answers PONG to zPING."""
    try:
        if config.unix_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(config.socket)
        else:
            sock = socket.create_connection(config.address, timeout=timeout)
        with sock:
            sock.sendall(b"zPING\0")
            return sock.recv(16).rstrip(b"\0\n") == b"PONG"
    except OSError:
        return False


def run_foreground(config: ClamdConfig | None = None) -> None:
    """`manage.py clamd`: render, then become clamd (honcho and compose supervise it)."""
    config = config or config_from_settings()
    render(config)
    args = command(config)
    os.execv(args[0], args)  # noqa: S606 - a fixed program, our own arguments


class ClamdProcess(ChildDaemon):
    """A private clamd run by this process (tests): start() returns once it answers PING."""

    name = "clamd"
    error = ClamavError

    def prepare(self) -> None:
        render(self.config)

    def command(self) -> list[str]:
        return command(self.config)

    def answers(self) -> bool:
        return ping(self.config)
