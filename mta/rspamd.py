"""The one face of rspamd: render the private configuration (mta.rspamd_config), run the daemon,
and ask it over its HTTP protocol (https://rspamd.com/doc/architecture/protocol.html).

    verdict = rspamd_check(content=..., sender=..., recipients=[...], client_ip=..., helo=...,
                           hostname=settings.MAIL_HOSTNAME)
    rspamd_learn(content=..., spam=True)
    rspamd_stat()

Every failure to reach rspamd or to read its answer raises RspamdUnavailable (a RspamdError):
the MX answers 4xx then (or accepts unfiltered, MAILSUITE_RSPAMD_FAIL_OPEN). Nothing else in
the project shells out to rspamd or opens a socket to it.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from mta.daemon import ChildDaemon
from mta.rspamd_config import (
    CLAMAV_FAIL_SYMBOL,
    CLAMAV_SYMBOL,
    RspamdConfig,
    RspamdError,
    config_from_settings,
    render,
    run_as,
    variables,
)

__all__ = [
    "CLAMAV_FAIL_SYMBOL",
    "CLAMAV_SYMBOL",
    "RspamdConfig",
    "RspamdError",
    "RspamdProcess",
    "RspamdUnavailable",
    "Verdict",
    "command",
    "config_from_settings",
    "render",
    "rspamd_check",
    "rspamd_learn",
    "rspamd_stat",
    "run_foreground",
    "start",
]

logger = logging.getLogger(__name__)

RSPAMD_BIN = "rspamd"


class RspamdUnavailable(RspamdError):
    """rspamd did not answer, or answered something that is not a verdict."""


# The verdict -------------------------------------------------------------------------------------

REJECT = "reject"
SOFT_REJECT = "soft reject"
SPAM_ACTIONS = frozenset({"add header", "rewrite subject"})


@dataclass(frozen=True)
class Verdict:
    action: str  # rspamd's: "no action", "greylist", "add header", "rewrite subject", "soft reject", "reject"
    score: float
    required_score: float
    symbols: frozenset[str]
    # The Authentication-Results value rspamd wrote (authserv-id = the `hostname` asked with);
    # "" when it wrote none (a message it skipped, e.g. GTUBE).
    authentication_results: str = ""
    message: str = ""  # rspamd's smtp_message, if any
    # The symbols that weigh most (not negative, highest first): what a notice names as why.
    top_symbols: tuple[str, ...] = ()

    @property
    def dmarc_reject(self) -> bool:
        return "DMARC_POLICY_REJECT" in self.symbols

    @property
    def dmarc_quarantine(self) -> bool:
        return "DMARC_POLICY_QUARANTINE" in self.symbols

    @property
    def spam(self) -> bool:
        """To be filed in Junk: rspamd's spam actions, a score at or above its add_header score,
        or the sender's domain asking for quarantine (DMARC p=quarantine)."""
        return (
            self.action in SPAM_ACTIONS
            or self.action == REJECT
            or self.score >= settings.RSPAMD_SPAM_SCORE
            or self.dmarc_quarantine
        )


# The HTTP client ----------------------------------------------------------------------------------

_local = threading.local()


def _connection(base_url: str, timeout: float) -> http.client.HTTPConnection:
    """A kept-alive connection per thread and server (the MX's worker threads each keep one)."""
    pool = getattr(_local, "connections", None)
    if pool is None:
        pool = _local.connections = {}
    conn = pool.get(base_url)
    if conn is None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise RspamdError(f"rspamd URL must be http://host:port, not {base_url!r}")
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        pool[base_url] = conn
    conn.timeout = timeout
    if conn.sock is not None:
        conn.sock.settimeout(timeout)
    return conn


def _drop(base_url: str) -> None:
    pool = getattr(_local, "connections", {})
    conn = pool.pop(base_url, None)
    if conn is not None:
        conn.close()


def _request(
    base_url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Iterable[tuple[str, str]] = (),
    timeout: float,
) -> dict:
    """One request on the thread's kept-alive connection; one retry on a fresh connection when
    a kept one turns out closed by the server (its keep-alive timeout), never after a timeout."""
    for attempt in (1, 2):
        conn = _connection(base_url, timeout)
        reused = conn.sock is not None
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body or b"")
            response = conn.getresponse()
            payload = response.read()
        except TimeoutError as exc:
            _drop(base_url)
            raise RspamdUnavailable(f"rspamd at {base_url}: no answer within {timeout:g} s") from exc
        except (OSError, http.client.HTTPException) as exc:
            _drop(base_url)
            if reused and attempt == 1:
                continue
            raise RspamdUnavailable(f"rspamd at {base_url}: {exc}") from exc
        if response.will_close:
            _drop(base_url)
        try:
            data = json.loads(payload or b"{}")
        except ValueError as exc:
            raise RspamdUnavailable(f"rspamd at {base_url}: not JSON ({response.status})") from exc
        if response.status != 200 or not isinstance(data, dict):
            error = data.get("error") if isinstance(data, dict) else None
            raise RspamdUnavailable(
                f"rspamd at {base_url}{path}: HTTP {response.status} {error or ''}".strip()
            )
        return data
    raise AssertionError("unreachable")


def _header_value(value: str) -> str:
    """A request header value: no line breaks (a crafted HELO must not add headers)."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def rspamd_check(
    *,
    content: bytes,
    sender: str,
    recipients: list[str],
    client_ip: str | None,
    helo: str,
    hostname: str,
    client_hostname: str = "",
    queue_id: str = "",
    user: str = "",
    url: str | None = None,
    timeout: float | None = None,
) -> Verdict:
    """Scan one message (POST /checkv2 on the normal worker). `sender` is the envelope sender
    ("" = null sender), `hostname` the suite's host name (the authserv-id of the
    Authentication-Results rspamd writes), `client_hostname` the client's forward-confirmed
    reverse DNS name (mta.rdns; "" = unknown), `user` the authenticated login when the message
    was submitted (outbound scanning), "" on the MX. Raises RspamdUnavailable."""
    headers = [
        ("From", _header_value(sender or "<>")),
        ("Helo", _header_value(helo or "unknown")),
        ("MTA-Name", _header_value(hostname)),
        ("Hostname", _header_value(client_hostname or "unknown")),
    ]
    if client_ip:
        headers.append(("Ip", _header_value(client_ip)))
    if queue_id:
        headers.append(("Queue-Id", _header_value(queue_id)))
    if user:
        headers.append(("User", _header_value(user)))
    headers += [("Rcpt", _header_value(r)) for r in recipients]
    data = _request(
        (url or settings.RSPAMD_URL).rstrip("/"),
        "POST",
        "/checkv2",
        body=content,
        headers=headers,
        timeout=timeout if timeout is not None else settings.RSPAMD_TIMEOUT,
    )
    try:
        action = str(data["action"])
        score = float(data.get("score", 0.0))
        required = float(data.get("required_score", 0.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise RspamdUnavailable(f"rspamd: no verdict in its answer ({exc})") from exc
    symbols = data.get("symbols") or {}
    added = ((data.get("milter") or {}).get("add_headers") or {}).get("Authentication-Results")
    auth_results = ""
    if isinstance(added, dict):
        auth_results = str(added.get("value", ""))
    elif isinstance(added, list) and added:
        auth_results = str(added[0].get("value", "")) if isinstance(added[0], dict) else ""
    elif isinstance(added, str):
        auth_results = added
    return Verdict(
        action=action,
        score=score,
        required_score=required,
        symbols=frozenset(symbols) if isinstance(symbols, dict) else frozenset(),
        authentication_results=auth_results,
        message=str((data.get("messages") or {}).get("smtp_message", "")),
        top_symbols=_top_symbols(symbols),
    )


def _top_symbols(symbols: object, count: int = 5) -> tuple[str, ...]:
    if not isinstance(symbols, dict):
        return ()
    weighed = []
    for name, detail in symbols.items():
        try:
            score = float((detail or {}).get("score", 0.0))
        except (AttributeError, TypeError, ValueError):
            continue
        if score >= 0:  # a forced action (GTUBE, a virus) may come from a symbol of score 0
            weighed.append((-score, str(name)))
    return tuple(f"{name} ({-score:.1f})" for score, name in sorted(weighed)[:count])


def rspamd_learn(*, content: bytes, spam: bool, url: str | None = None, timeout: float | None = None) -> dict:
    """Teach the Bayes classifier one message (POST /learnspam or /learnham on the controller).
    rspamd's "already learned" answers are errors (HTTP 208/404): RspamdUnavailable."""
    return _request(
        (url or settings.RSPAMD_CONTROLLER_URL).rstrip("/"),
        "POST",
        "/learnspam" if spam else "/learnham",
        body=content,
        headers=_password_header(),
        timeout=timeout if timeout is not None else settings.RSPAMD_TIMEOUT,
    )


def rspamd_stat(*, url: str | None = None, timeout: float = 10.0) -> dict:
    """The controller's /stat: scanned, learned, actions, per-classifier counts."""
    return _request(
        (url or settings.RSPAMD_CONTROLLER_URL).rstrip("/"),
        "GET",
        "/stat",
        headers=_password_header(),
        timeout=timeout,
    )


def _password_header() -> list[tuple[str, str]]:
    return [("Password", settings.RSPAMD_PASSWORD)] if settings.RSPAMD_PASSWORD else []


def ping(base_url: str, timeout: float = 2.0) -> bool:
    try:
        conn = http.client.HTTPConnection(
            urlsplit(base_url).hostname, urlsplit(base_url).port, timeout=timeout
        )
        try:
            conn.request("GET", "/ping")
            response = conn.getresponse()
            return response.status == 200 and response.read().strip() == b"pong"
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False


# The daemon -----------------------------------------------------------------------------------------


def command(config: RspamdConfig) -> list[str]:
    """rspamd in the foreground (-f) with the rendered configuration and its directory variables;
    started by root, the workers run as the package's _rspamd user."""
    args = [RSPAMD_BIN, "-f", "-c", str(config.conf_path)]
    owner = run_as()
    if owner is not None:
        args += ["-u", owner[0], "-g", owner[1]]
    args += [f"--var={name}={value}" for name, value in variables(config).items()]
    return args


def run_foreground(config: RspamdConfig | None = None) -> None:
    """`manage.py rspamd`: render, then become rspamd (honcho and compose supervise it)."""
    config = config or config_from_settings()
    render(config)
    args = command(config)
    logger.info("starting rspamd: %s", " ".join(args))
    os.execvp(args[0], args)  # noqa: S606 - a fixed program, our own arguments


class RspamdProcess(ChildDaemon):
    """A private rspamd run by this process (tests, benchmarks): start() returns once both
    workers answer /ping; stop() ends it."""

    name = "rspamd"
    error = RspamdError
    poll_seconds = 0.2
    log_lines = 40

    def prepare(self) -> None:
        render(self.config)

    def command(self) -> list[str]:
        return command(self.config)

    def answers(self) -> bool:
        return ping(self.config.normal_url) and ping(self.config.controller_url)

    def start(self, *, timeout: float = 120.0) -> RspamdProcess:
        return super().start(timeout=timeout)


def start(config: RspamdConfig | None = None, *, timeout: float = 120.0) -> RspamdProcess:
    return RspamdProcess(config or config_from_settings()).start(timeout=timeout)
