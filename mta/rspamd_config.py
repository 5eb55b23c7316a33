"""Rendering of the private rspamd configuration from settings (used by mta.rspamd).

The instance is private, like Dovecot's: its own top-level rspamd.conf in RspamdConfig.directory
that includes the packaged defaults of /etc/rspamd (CONFDIR: rules, scores, modules) but takes
every local override from this directory (LOCAL_CONFDIR = directory, so /etc/rspamd/local.d is
never read), with its own run, db and log paths. Two workers only: "normal" (scanning, the
HTTP protocol the MX speaks: POST /checkv2) and "controller" (POST /learnspam, /learnham,
GET /stat). No proxy, no fuzzy storage.

Files written: rspamd.conf, local.d/{options.inc, redis.conf, greylist.conf, dmarc.conf,
spf.conf, dkim.conf, milter_headers.conf, classifier-bayes.conf, actions.conf, logging.inc,
worker-controller.inc} (+ local.d/<module>.conf "enabled = false" for the network-only modules
when network_checks is off; + antivirus.conf and force_actions.conf when ClamAV is on).

ClamAV (clamav_socket set, MAILSUITE_CLAMAV): rspamd's antivirus module sends each whole message
to clamd (which decodes the MIME parts itself: attachments, nested messages, archives, text);
a virus → the reject action (the MX answers 554, mta.filtering); clamd unreachable or failing →
the CLAM_VIRUS_FAIL symbol, forced to "soft reject" (the MX answers 451 and the sender retries:
an unscanned message is never delivered while ClamAV is on).
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

PACKAGE_CONFDIR = Path("/etc/rspamd")
RSPAMD_USER = "_rspamd"  # the Debian package's system user: workers never run as root
# Modules that only ask the Internet (block lists, fuzzy hashes, URL lists, map downloads): off
# when network_checks is off (tests, a machine without Internet), so a scan never waits on them.
NETWORK_MODULES = (
    "rbl",
    "surbl",
    "fuzzy_check",
    "phishing",
    "url_redirector",
    "emails",
    "asn",
    "mx_check",
    "rspamd_update",
    "reputation",
    "neural",
)


class RspamdError(RuntimeError):
    """rspamd could not be configured, started, stopped or asked."""


@dataclass(frozen=True)
class RspamdConfig:
    directory: Path  # rspamd.conf, local.d/, run/, db/, rspamd.log
    bind: str  # loopback or an internal address: the MX and Dovecot's learn script only
    normal_port: int
    controller_port: int
    redis_url: str  # its own database number of the project's Redis (Bayes, greylisting, history)
    dns_resolver: str = ""  # "host:port"; "" = the system's resolver
    greylisting: bool = False
    network_checks: bool = True
    # Addresses the controller trusts without a password (learning from Dovecot's IMAPSieve
    # script, /stat for the tests and the operators).
    secure_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    password: str = ""  # the controller's password for everyone else ("" = none accepted)
    # Score above which a message counts as spam (add_header); rejection above reject_score.
    # Scanning processes: rspamd scans one message per process at a time (its DNS is async).
    normal_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    spam_score: float = 6.0
    reject_score: float = 15.0
    # Hyperscan's compiled rules (tens of MB, a minute of CPU on a cold start): kept across
    # restarts; None = the instance's db/ directory.
    hs_cache_dir: Path | None = None
    # clamd's "host:port" or Unix socket path; "" = no virus scanning (MAILSUITE_CLAMAV off).
    clamav_socket: str = ""
    clamav_max_size: int = 50 * 1024 * 1024  # larger messages are not sent to clamd
    extra_local: dict[str, str] = field(default_factory=dict)  # local.d/<name>: text (tests)

    @property
    def conf_path(self) -> Path:
        return self.directory / "rspamd.conf"

    @property
    def pid_path(self) -> Path:
        return self.directory / "run" / "rspamd.pid"

    @property
    def log_path(self) -> Path:
        return self.directory / "rspamd.log"

    @property
    def normal_url(self) -> str:
        return f"http://{_url_host(self.bind)}:{self.normal_port}"

    @property
    def controller_url(self) -> str:
        return f"http://{_url_host(self.bind)}:{self.controller_port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise RspamdError(f"not an http://host:port URL: {url!r}")
    return parts.hostname, parts.port or default_port


def config_from_settings(**overrides) -> RspamdConfig:
    normal_host, normal_port = _host_port(settings.RSPAMD_URL, 11333)
    _, controller_port = _host_port(settings.RSPAMD_CONTROLLER_URL, 11334)
    config = RspamdConfig(
        directory=Path(settings.RSPAMD_DIR),
        bind=normal_host,
        normal_port=normal_port,
        controller_port=controller_port,
        redis_url=settings.RSPAMD_REDIS_URL,
        dns_resolver=settings.DNS_RESOLVER,
        greylisting=settings.RSPAMD_GREYLISTING,
        network_checks=settings.RSPAMD_NETWORK_CHECKS,
        password=settings.RSPAMD_PASSWORD,
        spam_score=settings.RSPAMD_SPAM_SCORE,
        reject_score=settings.RSPAMD_REJECT_SCORE,
        clamav_socket=settings.CLAMAV_SOCKET if settings.CLAMAV else "",
        clamav_max_size=settings.SMTP_MAX_MESSAGE_SIZE,
    )
    return replace(config, **overrides) if overrides else config


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _redis_conf(config: RspamdConfig) -> str:
    parts = urlsplit(config.redis_url)
    if parts.scheme not in ("redis", "") or not parts.hostname:
        raise RspamdError(
            f"MAILSUITE_RSPAMD_REDIS_URL must be redis://host:port/db, not {config.redis_url!r}"
        )
    db = (parts.path or "/0").strip("/") or "0"
    lines = [f"servers = {_quote(f'{parts.hostname}:{parts.port or 6379}')};", f"db = {_quote(db)};"]
    if parts.password:
        lines.append(f"password = {_quote(parts.password)};")
    return "\n".join(lines) + "\n"


def _options(config: RspamdConfig) -> str:
    dns = ""
    if config.dns_resolver:
        host, _, port = config.dns_resolver.rpartition(":")
        if not host:
            host, port = config.dns_resolver, "53"
        # rspamd's upstream syntax: host:port; "master-slave" keeps it the only server asked.
        dns = (
            f"dns {{\n  nameserver = [{_quote(f'{host}:{port}')}];\n  timeout = 1s;\n  retransmits = 2;\n}}\n"
        )
    return (
        dns
        # The MX is the only client, and every MX message comes from outside: loopback and
        # private peers get no trust (SPF, DKIM, DMARC are checked for them too, below).
        + "local_addrs = [];\n"
        # GTUBE's variants (add header, rewrite subject, no action) besides the standard one
        # (reject): the tests and an operator check each verdict with them.
        + "enable_test_patterns = true;\n"
        + (f"hs_cache_dir = {_quote(str(config.hs_cache_dir) + '/')};\n" if config.hs_cache_dir else "")
        # A scan waiting on clamd (two tries of 5 s) must not be cut short by the task's default
        # 8 s (the message would pass unscanned); below the MX's MAILSUITE_RSPAMD_TIMEOUT (20 s).
        + ("task_timeout = 15s;\n" if config.clamav_socket else "")
    )


def _checks_everyone() -> str:
    # Nothing is trusted as internal: a message from a "local" address or an authenticated user
    # is checked like any other (the MX has no AUTH; submission is never scanned as inbound).
    return "check_local = true;\ncheck_authed = true;\n"


# The symbols of the antivirus rule: mta.filtering reads them for its replies.
CLAMAV_SYMBOL = "CLAM_VIRUS"
CLAMAV_FAIL_SYMBOL = "CLAM_VIRUS_FAIL"


def _antivirus(config: RspamdConfig) -> str:
    return (
        "clamav {\n"
        '  type = "clamav";\n'
        f"  servers = {_quote(config.clamav_socket)};\n"
        # The whole message, not only its attachments: clamd's own mail parser walks every part
        # (attachments, nested messages, archives, HTML) and its signatures for mail apply.
        "  scan_mime_parts = false;\n"
        f"  max_size = {config.clamav_max_size};\n"
        f'  symbol = "{CLAMAV_SYMBOL}";\n'
        f'  symbol_fail = "{CLAMAV_FAIL_SYMBOL}";\n'
        '  action = "reject";\n'
        "  message = '${SCANNER}: virus found: \"${VIRUS}\"';\n"
        # Two tries of 5 s, within the task's time (options.inc) and the MX's wait for a verdict.
        "  timeout = 5.0;\n"
        "  retransmits = 1;\n"
        "  log_clean = false;\n"
        "}\n"
    )


def _force_actions() -> str:
    # clamd down, too slow or answering an error: not scanned, so not accepted (451, retried).
    return (
        "rules {\n"
        "  CLAMAV_UNAVAILABLE {\n"
        '    action = "soft reject";\n'
        f'    expression = "{CLAMAV_FAIL_SYMBOL}";\n'
        '    message = "Virus scanner unavailable, please try again later";\n'
        "  }\n"
        "}\n"
    )


def local_files(config: RspamdConfig) -> dict[str, str]:
    files = {
        "options.inc": _options(config),
        "redis.conf": _redis_conf(config),
        "greylist.conf": f"enabled = {'true' if config.greylisting else 'false'};\n",
        "spf.conf": _checks_everyone(),
        "dkim.conf": _checks_everyone(),
        # The MX reads the policy from the symbols (DMARC_POLICY_REJECT → 5xx, _QUARANTINE →
        # Junk); no forced actions here, so the verdict stays one place (mta.filtering).
        "dmarc.conf": _checks_everyone(),
        "arc.conf": _checks_everyone(),
        # The Authentication-Results header comes back in the reply ("milter" → add_headers),
        # its authserv-id being the MTA-Name request header (the suite's host name).
        "milter_headers.conf": (
            'use = ["authentication-results"];\nskip_local = false;\nskip_authenticated = false;\n'
        ),
        "actions.conf": (
            f"reject = {config.reject_score};\nadd_header = {config.spam_score};\n"
            + ("greylist = 4;\n" if config.greylisting else "greylist = null;\n")
        ),
        # Learning is by hand only (Junk moves); autolearn would learn the filter's own mistakes.
        "classifier-bayes.conf": "autolearn = false;\n",
        "logging.inc": 'type = "file";\nlevel = "warning";\n',
        "worker-controller.inc": (
            "".join(f"secure_ip = {_quote(ip)};\n" for ip in config.secure_ips)
            # Without a password of its own, one nobody knows: only secure_ip peers get in
            # (a controller with no password at all would let every peer learn).
            + f"password = {_quote(config.password or secrets.token_hex(32))};\n"
        ),
    }
    if not config.network_checks:
        for module in NETWORK_MODULES:
            files[f"{module}.conf"] = "enabled = false;\n"
    if config.clamav_socket:
        files["antivirus.conf"] = _antivirus(config)
        files["force_actions.conf"] = _force_actions()
    files.update(config.extra_local)
    return files


def main_conf(config: RspamdConfig) -> str:
    d = config.directory
    return f"""# Rendered by mta.rspamd from Django settings. Do not edit: it is rewritten at start.
# CONFDIR = the packaged defaults ({PACKAGE_CONFDIR}); LOCAL_CONFDIR = {d} (its local.d/).
.include "$CONFDIR/common.conf"

options {{
    pidfile = "{config.pid_path}";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}}

logging {{
    filename = "{config.log_path}";
    .include "$CONFDIR/logging.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/logging.inc"
}}

worker "normal" {{
    bind_socket = {_quote(f"{_url_host(config.bind)}:{config.normal_port}")};
    .include "$CONFDIR/worker-normal.inc"
    count = {max(1, config.normal_workers)};
}}

worker "controller" {{
    bind_socket = {_quote(f"{_url_host(config.bind)}:{config.controller_port}")};
    count = 1;
    static_dir = "${{WWWDIR}}";
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/worker-controller.inc"
}}
"""


def variables(config: RspamdConfig) -> dict[str, str]:
    """rspamd's --var values: our directory replaces /etc/rspamd's local overrides and /var paths."""
    d = config.directory
    return {
        "CONFDIR": str(PACKAGE_CONFDIR),
        "LOCAL_CONFDIR": str(d),
        "DBDIR": str(d / "db"),
        "RUNDIR": str(d / "run"),
        "LOGDIR": str(d),
    }


def run_as() -> tuple[str, str] | None:
    """(user, group) the workers run as when started by root; None = as the current user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(RSPAMD_USER)
    except KeyError as exc:
        raise RspamdError(f"system user {RSPAMD_USER!r} is missing (package rspamd creates it)") from exc
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name


def render(config: RspamdConfig | None = None) -> Path:
    """Write rspamd.conf and local.d/ into config.directory; return the conf path."""
    config = config or config_from_settings()
    d = config.directory
    owner = run_as()
    writable = [d / "run", d / "db"] + ([config.hs_cache_dir] if config.hs_cache_dir else [])
    for sub in (d, d / "local.d", *writable):
        sub.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        entry = pwd.getpwnam(owner[0])
        for sub in writable:
            os.chown(sub, entry.pw_uid, entry.pw_gid)
        # The log is opened by the workers after they drop privileges.
        config.log_path.touch()
        os.chown(config.log_path, entry.pw_uid, entry.pw_gid)
    d.chmod(0o755)
    local = d / "local.d"
    for stale in local.glob("*"):
        stale.unlink()
    for name, text in local_files(config).items():
        # The controller's password: readable by root and the rspamd user only.
        secret = name == "worker-controller.inc"
        _write(local / name, text, 0o640 if secret else 0o644, owner=owner if secret else None)
    _write(config.conf_path, main_conf(config), 0o644)
    return config.conf_path


def _write(path: Path, text: str, mode: int, *, owner: tuple[str, str] | None = None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        if owner is not None:
            os.fchown(fd, 0, pwd.getpwnam(owner[0]).pw_gid)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as handle:
            fd = -1
            handle.write(text)
    finally:
        if fd != -1:
            os.close(fd)
    tmp.replace(path)
