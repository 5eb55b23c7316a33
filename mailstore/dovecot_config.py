"""Rendering of the private Dovecot configuration from settings (used by mailstore.dovecot).

Files written into DovecotConfig.directory: dovecot.conf, sql-app.conf.ext (app-password passdb),
sql-main.conf.ext (main-password passdb + userdb), sql-cache.conf.ext and sql-cache-fill.conf.ext
(the verified-credential cache, mailstore.authcache), dict-sql.conf.ext (quota_clone → PostgreSQL),
master-users (the project's master user), auth-policy.conf.ext (the auth policy server and its
API key, included by dovecot.conf), quota-warning.py (the quota_warning script).

Who reads the files holding secrets, and so their owner and mode (never readable by others;
each file is created with its final mode, so no secret is ever on disk with a wider one):
- sql-*.conf.ext (DB password) and master-users: the auth process, which runs as
  default_internal_user (dovecot): root:dovecot 0640.
- dict-sql.conf.ext (DB password): the dict process, also default_internal_user: root:dovecot 0640.
- auth-policy.conf.ext (internal API token): only the config parser, as root: root:root 0600.
  dovecot.conf itself holds no secret and stays 0644 (doveconf -n for anyone debugging).
- quota-warning.py (internal API token): run as the vmail user: root:vmail 0750.
(tests/mailstore/test_dovecot_files.py checks these against the running processes' users.)
"""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import pwd
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from django.conf import settings

from mailstore import junk, layout
from mailstore.tls import ensure_certificate

AUTH_POLICY_FILE = "auth-policy.conf.ext"
DOVECOT_INTERNAL_GROUP = "dovecot"  # default_internal_user's group: the auth process reads the secrets
DH_FILE = Path("/usr/share/dovecot/dh.pem")
LOOPBACK_NETS = "127.0.0.0/8 ::1/128"


class DovecotError(RuntimeError):
    """Dovecot could not be configured, started, stopped or queried."""


@dataclass(frozen=True)
class DovecotConfig:
    directory: Path  # runtime: dovecot.conf, run/ (base_dir), state/, dovecot.log
    mail_store_dir: Path
    bind: str
    ports: Mapping[str, int]  # imap, imaps, pop3s, lmtp, sieve
    internal_bind: str  # LMTP: loopback or an internal address, never the public `bind`
    cert_file: Path
    key_file: Path
    database: Mapping[str, str]  # name, host, port
    db_user: str
    db_password: str
    master_user: str
    master_password: str
    hostname: str
    internal_base_url: str  # "" = no auth policy, no quota-warning callbacks
    internal_api_token: str
    submission_host: str
    vmail_user: str
    auth_failure_delay: int = 2
    auth_penalty: bool = True  # anvil's growing per-IP delay after failures (off in tests)
    # settings.AUTH_POLICY_FAIL_MODE == "closed": a login whose policy check fails is refused.
    auth_policy_reject_on_fail: bool = True
    quota_warning_levels: tuple[int, ...] = (80, 95)
    auth_cache_seconds: int = 900  # verified-credential cache (mailstore.authcache); 0 = off
    # IMAP/POP3 login processes in Dovecot's high-performance mode (one process serves many
    # connections; as many kept ready as cores): a fork per connection halved the login rate
    # of bench/imap_login.py. 0 = Dovecot's default (a process per connection).
    login_processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    extra: Mapping[str, str] = field(default_factory=dict)  # top-level settings appended verbatim
    # Time Machine days (mailstore.snapshots), opened read-only by snapshot logins. None = the
    # setting MAILSUITE_SNAPSHOT_DIR.
    snapshot_dir: Path | None = None
    # rspamd's controller (learning from Junk moves, mailstore.junk); "" = no learning.
    rspamd_controller_url: str = ""
    rspamd_password: str = ""

    @property
    def conf_path(self) -> Path:
        return self.directory / "dovecot.conf"

    @property
    def base_dir(self) -> Path:
        return self.directory / "run"

    @property
    def log_path(self) -> Path:
        return self.directory / "dovecot.log"

    @property
    def pid_path(self) -> Path:
        return self.base_dir / "master.pid"


def config_from_settings(**overrides) -> DovecotConfig:
    db = settings.DATABASES["default"]
    config = DovecotConfig(
        directory=Path(settings.DOVECOT_DIR),
        mail_store_dir=Path(settings.MAIL_STORE_DIR),
        bind=settings.MAIL_BIND,
        internal_bind=settings.INTERNAL_BIND,
        ports={k: settings.MAIL_PORTS[k] for k in ("imap", "imaps", "pop3s", "lmtp", "sieve")},
        cert_file=Path(settings.TLS_CERT_FILE),
        key_file=Path(settings.TLS_KEY_FILE),
        database={"name": db["NAME"], "host": db.get("HOST") or "", "port": str(db.get("PORT") or "")},
        db_user=settings.DOVECOT_DB_USER,
        db_password=settings.DOVECOT_DB_PASSWORD,
        master_user=settings.MAILSTORE_MASTER_USER,
        master_password=settings.MAILSTORE_MASTER_PASSWORD,
        hostname=settings.MAIL_HOSTNAME,
        internal_base_url=settings.INTERNAL_BASE_URL,
        internal_api_token=settings.INTERNAL_API_TOKEN,
        submission_host=settings.DOVECOT_SUBMISSION_HOST,
        vmail_user=settings.VMAIL_USER,
        auth_failure_delay=settings.DOVECOT_AUTH_FAILURE_DELAY,
        auth_policy_reject_on_fail=settings.AUTH_POLICY_FAIL_MODE != "open",
        quota_warning_levels=tuple(settings.QUOTA_WARNING_LEVELS),
        auth_cache_seconds=settings.MAIL_AUTH_CACHE_SECONDS,
        snapshot_dir=Path(settings.SNAPSHOT_DIR),
        rspamd_controller_url=settings.RSPAMD_CONTROLLER_URL if settings.RSPAMD_FILTERING else "",
        rspamd_password=settings.RSPAMD_PASSWORD,
    )
    return replace(config, **overrides) if overrides else config


def maildir_path(mailbox_id: int, *, config: DovecotConfig | None = None) -> Path:
    """The Maildir of a mailbox: keyed by its immutable id, never by its address (mailstore.layout)."""
    config = config or config_from_settings()
    return layout.maildir_path(mailbox_id, store=config.mail_store_dir)


def _template_path(path: Path) -> str:
    """A path put inside a Dovecot template and an SQL literal: neither % nor ' may appear."""
    text = str(path)
    if "'" in text or "%" in text or "\\" in text:
        raise DovecotError(f"the path {text!r} may not contain ', % or a backslash")
    return text


def _home_sql(config: DovecotConfig) -> str:
    """The userdb's home as an SQL expression of the view's mailbox_id (mailstore.layout)."""
    return f"'{_template_path(config.mail_store_dir / layout.MAILBOXES_DIR)}/' || mailbox_id AS home"


def snapshot_dir(config: DovecotConfig) -> Path:
    return Path(config.snapshot_dir if config.snapshot_dir is not None else settings.SNAPSHOT_DIR)


# A snapshot login is "<mailbox id>@<YYYY-MM-DD>" (mailstore.imap.SnapshotDay), reached only
# through the master user: no passdb knows it. Its userdb (after the mailboxes' one, so it never
# shadows a mailbox; no real domain is a bare date) answers IMAP only: LMTP, POP3 and doveadm
# get "unknown user". The mail is the day's copy, indexes in memory (nothing is written, not even
# in the snapshot), with only the acl plugin (no quota, no quota_clone writing usage rows), and
# the global ACL gives the owner lookup and read rights only.
SNAPSHOT_ACL_FILE = "snapshot-acl"
# Recently deleted mail (lazy_expunge): a hidden namespace (mailstore.recently_deleted).
LAZY_NAMESPACE = "deleted"
LAZY_PREFIX = ".DELETED/"
LAZY_DIR = "deleted"
DELETED_KEEP_DAYS = 15
SPECIAL_FOLDERS = ("Drafts", "Sent", "Trash", "Junk")
SNAPSHOT_ACL = "* owner lr\n* anyone lr\n"


def _snapshot_userdb_sql(config: DovecotConfig) -> str:
    root = _template_path(snapshot_dir(config))
    return (
        f"driver = pgsql\nconnect = {_connect_line(config)}\n"
        "user_query = SELECT '%u' AS \"user\", "  # noqa: S608 - a Dovecot template
        f"'{root}/%n/%d' AS home, "
        f"'maildir:{root}/%n/%d/Maildir:INDEX=MEMORY' AS mail, "
        "'acl' AS mail_plugins, "
        # The special-use folders are created on first use in a live mailbox; never in a copy.
        + "".join(f"'no' AS \"namespace/inbox/mailbox/{name}/auto\", " for name in SPECIAL_FOLDERS)
        # A day's copy has no recently deleted mail (it lives outside the Maildir).
        + f"'yes' AS \"namespace/{LAZY_NAMESPACE}/disabled\", "
        + f"'vfile:{config.directory / SNAPSHOT_ACL_FILE}' AS acl "
        "WHERE '%s' = 'imap' AND '%n' ~ '^[0-9]{1,18}$' AND '%d' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'\n"
    )


def _conninfo_value(value: str) -> str:
    """A libpq connection-string value, quoted when needed."""
    if value and all(c.isalnum() or c in "._-/" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _connect_line(config: DovecotConfig) -> str:
    parts = {"dbname": config.database["name"], "user": config.db_user}
    host = config.database.get("host") or ""
    if host:
        parts["host"] = host
    if config.database.get("port"):
        parts["port"] = config.database["port"]
    if config.db_password:
        parts["password"] = config.db_password
    return " ".join(f"{k}={_conninfo_value(v)}" for k, v in parts.items())


def _ssha256(password: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha256(password.encode() + salt).digest()
    return "{SSHA256}" + base64.b64encode(digest + salt).decode()


def _vmail_ids(user: str) -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(user)
    except KeyError as exc:
        raise DovecotError(f"system user {user!r} is missing (scripts/setup.sh creates it)") from exc
    return entry.pw_uid, entry.pw_gid


# Where the user's row is selected: by domain and local part, the unique index of domains_mailbox.
_USER_WHERE = "domain = '%d' AND local_part = '%n'"
# Dovecot shows `reason` to the client (IMAP NO [AUTHENTICATIONFAILED], POP3 -ERR, ManageSieve NO)
# when the right password meets nologin. English, like every protocol reply.
MUST_CHANGE_REASON = (
    "Password change required: change it on the web (webmail or control panel) before using mail clients."
)


def _sql_files(config: DovecotConfig) -> dict[str, str]:
    """Dovecot's SQL configuration files (the queries are Dovecot templates; Dovecot escapes %-variables)."""
    connect = f"driver = pgsql\nconnect = {_connect_line(config)}\n"
    app = (
        connect
        + "default_pass_scheme = ARGON2ID\n"
        # One row at most (token_hash is unique); nopassword: the match itself is the check.
        + "password_query = SELECT login AS user, NULL AS password, 'Y' AS nopassword, "  # noqa: S608
        "app_password_id "
        f"FROM mailstore_mailapppassword WHERE {_USER_WHERE} "
        "AND token_hash = encode(sha256(convert_to('%w', 'UTF8')), 'hex')\n"
    )
    main = (
        connect  # noqa: S608 - a Dovecot template, not a query run here
        + "default_pass_scheme = ARGON2ID\n"
        # The temporary password (first login) verifies, then nologin refuses it with the reason.
        # credential_generation: which stored hash was verified, for the cache-fill passdb.
        + "password_query = SELECT login AS user, password, credential_generation, "  # noqa: S608
        "CASE WHEN must_change_password THEN 'Y' END AS nologin, "
        f"CASE WHEN must_change_password THEN '{MUST_CHANGE_REASON}' END AS reason "
        "FROM mailstore_mailuser "
        f"WHERE {_USER_WHERE} AND NOT require_2fa AND password IS NOT NULL\n"
        + "user_query = SELECT login AS user, '*:storage=' || quota_bytes || 'B' AS quota_rule, "  # noqa: S608
        f"{_home_sql(config)} FROM mailstore_mailuser WHERE {_USER_WHERE}\n"
        + "iterate_query = SELECT login AS user FROM mailstore_mailuser ORDER BY login\n"
    )
    dict_sql = (
        f"connect = {_connect_line(config)}\n"
        "map {\n"
        "  pattern = priv/quota/storage\n"
        "  table = mailstore_quotausage\n"
        "  username_field = username\n"
        "  value_field = bytes\n"
        "  value_type = uint\n"
        "}\n"
        "map {\n"
        "  pattern = priv/quota/messages\n"
        "  table = mailstore_quotausage\n"
        "  username_field = username\n"
        "  value_field = messages\n"
        "  value_type = uint\n"
        "}\n"
    )
    files = {
        "sql-app.conf.ext": app,
        "sql-main.conf.ext": main,
        "dict-sql.conf.ext": dict_sql,
        "sql-snapshot.conf.ext": _snapshot_userdb_sql(config),
    }
    if config.auth_cache_seconds > 0:
        # A hit: the keyed hash of this password matches a live row (same rules as the main passdb).
        files["sql-cache.conf.ext"] = (
            connect
            + "password_query = SELECT login AS user, NULL AS password, 'Y' AS nopassword "  # noqa: S608
            f"FROM mailstore_mailuser WHERE {_USER_WHERE} AND NOT require_2fa "
            "AND NOT must_change_password AND password IS NOT NULL "
            "AND mailstore_authcache_match(user_id, login, '%w')\n"
        )
        # Reached only after the main passdb verified the password (skip = unauthenticated).
        files["sql-cache-fill.conf.ext"] = (
            connect
            + "password_query = SELECT NULL AS password, 'Y' AS nopassword "  # noqa: S608
            "FROM (SELECT mailstore_authcache_fill('%n', '%d', '%w', "
            f"'%{{passdb:credential_generation}}', {int(config.auth_cache_seconds)})) AS filled\n"
        )
    return files


QUOTA_WARNING_SCRIPT = """#!/usr/bin/python3
# Rendered by mailstore.dovecot: tells the web process that a mailbox crossed a quota level.
# Dovecot runs it as: quota-warning.py <level> <user>  (level 0 = back below the lowest level)
import json, sys, urllib.request
URL = {url!r}
TOKEN = {token!r}
level, user = int(sys.argv[1]), sys.argv[2]
request = urllib.request.Request(
    URL, data=json.dumps({{"user": user, "level": level}}).encode(),
    headers={{"Content-Type": "application/json", "X-API-Key": TOKEN}}, method="POST")
try:
    urllib.request.urlopen(request, timeout=10).read()
except Exception as exc:
    print("quota-warning: %s: %s" % (URL, exc), file=sys.stderr)
    sys.exit(1)
"""


def render(config: DovecotConfig | None = None) -> Path:
    """Write dovecot.conf and its companion files into config.directory; return the conf path."""
    config = config or config_from_settings()
    uid, gid = _vmail_ids(config.vmail_user)
    ensure_certificate(config.cert_file, config.key_file, hostname=config.hostname)
    d = config.directory
    for sub in (d, config.base_dir, d / "state"):
        sub.mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)  # mail processes (vmail) reach sockets and the warning script in here
    config.mail_store_dir.mkdir(parents=True, exist_ok=True)
    os.chown(config.mail_store_dir, uid, gid)
    config.mail_store_dir.chmod(0o750)
    homes = config.mail_store_dir / layout.MAILBOXES_DIR  # the mail processes (vmail) create homes here
    homes.mkdir(exist_ok=True)
    os.chown(homes, uid, gid)
    homes.chmod(0o750)

    # Secrets inside: readable by root and the auth process (default_internal_user) only.
    internal_gid = _internal_gid()
    for name, text in _sql_files(config).items():
        _write(d / name, text, 0o640, gid=internal_gid)
    _write(
        d / "master-users",
        # allow_real_nets: the connecting address, not the x-originating-ip the webmail forwards.
        f"{config.master_user}:{_ssha256(config.master_password)}::::::allow_real_nets=127.0.0.0/8\n",
        0o640,
        gid=internal_gid,
    )
    warning_script = d / "quota-warning.py"
    _write(
        warning_script,
        QUOTA_WARNING_SCRIPT.format(
            url=config.internal_base_url.rstrip("/") + "/internal/quota-warning/",
            token=config.internal_api_token,
        ),
        0o750,
        gid=gid,
    )
    _write(d / SNAPSHOT_ACL_FILE, SNAPSHOT_ACL, 0o644)
    _write_junk_files(config, uid, gid)
    # The API key of the policy server: read by the config parser only (root).
    _write(d / AUTH_POLICY_FILE, _auth_policy_conf(config), 0o600, gid=0)
    _write(config.conf_path, _main_conf(config, uid, gid), 0o644)
    return config.conf_path


def _write_junk_files(config: DovecotConfig, uid: int, gid: int) -> None:
    """The Junk Sieve scripts (a directory the mail processes own: Pigeonhole writes the
    compiled .svbin beside each script) and the learn program (it holds the controller's
    password: root:vmail 0750, like the quota-warning script)."""
    for sub in (junk.SIEVE_DIR, junk.PROGRAM_DIR):
        (config.directory / sub).mkdir(exist_ok=True)
    os.chown(config.directory / junk.SIEVE_DIR, uid, gid)
    for name, text in junk.scripts(
        controller_url=config.rspamd_controller_url, password=config.rspamd_password
    ).items():
        if name.startswith(junk.PROGRAM_DIR):
            _write(config.directory / name, text, 0o750, gid=gid)
        else:
            _write(config.directory / name, text, 0o644)


def _write(path: Path, text: str, mode: int, *, gid: int | None = None) -> None:
    """Replace `path` atomically; the new file has its final owner and mode before the first byte
    is written (a secret is never readable by others, not even for an instant)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        if gid is not None:
            os.fchown(fd, 0, gid)
        os.fchmod(fd, mode)  # the umask may have narrowed the mode given to open()
        with os.fdopen(fd, "w") as handle:
            fd = -1
            handle.write(text)
    finally:
        if fd != -1:
            os.close(fd)
    tmp.replace(path)


def _internal_gid() -> int:
    try:
        return grp.getgrnam(DOVECOT_INTERNAL_GROUP).gr_gid
    except KeyError as exc:
        raise DovecotError(
            f"group {DOVECOT_INTERNAL_GROUP!r} is missing (package dovecot-core creates it)"
        ) from exc


def _auth_policy_conf(config: DovecotConfig) -> str:
    if not config.internal_base_url:
        return "# No auth policy server (internal_base_url is empty).\n"
    nonce = hashlib.sha256(("auth-policy-nonce:" + config.internal_api_token).encode()).hexdigest()
    return (
        "# Rendered by mailstore.dovecot: the auth policy server's API key. Root only.\n"
        f"auth_policy_server_api_header = X-API-Key: {config.internal_api_token}\n"
        f"auth_policy_hash_nonce = {nonce}\n"
    )


def _main_passdbs(config: DovecotConfig) -> str:
    """The main-password passdb, between the two passdbs of the verified-credential cache:
    a hit returns at once; a miss goes on to Argon2; only a verified password reaches the fill
    (skip = unauthenticated), whose own failure never fails the login."""
    d = config.directory
    if config.auth_cache_seconds <= 0:
        return f"passdb {{\n  driver = sql\n  args = {d / 'sql-main.conf.ext'}\n}}"
    return (
        f"passdb {{\n  driver = sql\n  args = {d / 'sql-cache.conf.ext'}\n}}\n"
        f"passdb {{\n  driver = sql\n  args = {d / 'sql-main.conf.ext'}\n"
        "  result_success = continue-ok\n}\n"
        f"passdb {{\n  driver = sql\n  args = {d / 'sql-cache-fill.conf.ext'}\n"
        "  skip = unauthenticated\n"
        "  result_success = return-ok\n"
        "  result_failure = return-ok\n"
        "  result_internalfail = return-ok\n}"
    )


def _main_conf(config: DovecotConfig, uid: int, gid: int) -> str:
    d, p, bind = config.directory, config.ports, config.bind
    vmail_group = grp.getgrgid(gid).gr_name
    levels = sorted(config.quota_warning_levels, reverse=True)
    warnings = []
    for i, level in enumerate(levels):
        suffix = "" if i == 0 else str(i + 1)
        warnings.append(f"  quota_warning{suffix} = storage={level}%% quota-warning {level} %u")
    if levels:
        warnings.append(f"  quota_warning{len(levels) + 1} = -storage={levels[-1]}%% quota-warning 0 %u")
    policy = ""
    if config.internal_base_url:
        policy = (
            f"auth_policy_server_url = {config.internal_base_url.rstrip('/')}/internal/auth-policy/\n"
            # auth_policy_server_api_header and auth_policy_hash_nonce: secrets, in their own file.
            f"!include {d / AUTH_POLICY_FILE}\n"
            "auth_policy_server_timeout_msecs = 2000\n"
            # MAILSUITE_AUTH_POLICY_FAIL_MODE: closed = refuse the login when the check fails.
            f"auth_policy_reject_on_fail = {'yes' if config.auth_policy_reject_on_fail else 'no'}\n"
            "auth_policy_report_after_auth = yes\n"
            "auth_policy_request_attributes = login=%{requested_username} pwhash=%{hashed_password} "
            "remote=%{rip} real_remote=%{real_rip} device_id=%{client_id} protocol=%s "
            "session_id=%{session} tls=%{secured} master=%{master_user} "
            # The id of the app password that matched (empty otherwise), for its last_used_at.
            "app_password=%{passdb:app_password_id}\n"
        )
    penalty = (
        ""
        if config.auth_penalty
        else ("service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n")
    )
    extra = "".join(f"{k} = {v}\n" for k, v in config.extra.items())
    ssl_dh = f"ssl_dh = <{DH_FILE}\n" if DH_FILE.exists() else ""
    login_mode = (
        f"  service_count = 0\n  process_min_avail = {config.login_processes}\n"
        if config.login_processes > 0
        else ""
    )
    return f"""# Rendered by mailstore.dovecot from Django settings. Do not edit: it is rewritten at start.
base_dir = {config.base_dir}
state_dir = {d / "state"}
log_path = {config.log_path}
instance_name = mailsuite-{hashlib.sha256(str(d).encode()).hexdigest()[:8]}
protocols = imap pop3 lmtp sieve
listen = {bind}
hostname = {config.hostname}
postmaster_address = postmaster@{config.hostname}
submission_host = {config.submission_host}
login_trusted_networks = {LOOPBACK_NETS}
login_greeting = mailsuite ready.
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_username_format = %Lu
auth_master_user_separator = *
auth_failure_delay = {config.auth_failure_delay} secs
auth_verbose = yes
{policy}
ssl = yes
ssl_cert = <{config.cert_file}
ssl_key = <{config.key_file}
{ssl_dh}ssl_min_protocol = TLSv1.2
ssl_prefer_server_ciphers = yes

mail_location = maildir:~/Maildir
# Only Dovecot writes in a live Maildir (delivery is LMTP, restores and imports are IMAP; snapshots
# only link files out of it, layout moves take the indexes along): no directory scan of cur/ each
# time a folder is opened or checked, ~10 ms a command on a 10,000-message folder.
maildir_very_dirty_syncs = yes
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_plugins = $mail_plugins quota quota_clone lazy_expunge
recipient_delimiter = +
lmtp_rcpt_check_quota = yes
# Top level on purpose: inside plugin {{}} it is silently ignored. "no" = over quota is permanent (552 5.2.2).
quota_full_tempfail = no

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}

# Recently deleted (mailstore.recently_deleted): lazy_expunge keeps every expunged message in the
# same-named mailbox of this namespace, outside the Maildir (so never in a snapshot), hidden
# from IMAP clients (not listed; reached only by naming the prefix), not counted in the quota
# (the plugin marks its namespace NOQUOTA), removed {DELETED_KEEP_DAYS} days after deletion.
namespace {LAZY_NAMESPACE} {{
  prefix = {LAZY_PREFIX}
  separator = /
  location = maildir:~/{LAZY_DIR}
  hidden = yes
  list = no
  subscriptions = no
  mailbox * {{
    autoexpunge = {DELETED_KEEP_DAYS}d
  }}
}}

passdb {{
  driver = passwd-file
  args = scheme=SSHA256 {d / "master-users"}
  master = yes
}}
passdb {{
  driver = sql
  args = {d / "sql-app.conf.ext"}
}}
{_main_passdbs(config)}
userdb {{
  driver = sql
  args = {d / "sql-main.conf.ext"}
  default_fields = uid={uid} gid={gid}
}}
userdb {{
  driver = sql
  args = {d / "sql-snapshot.conf.ext"}
  default_fields = uid={uid} gid={gid}
}}

dict {{
  quotaclone = pgsql:{d / "dict-sql.conf.ext"}
}}

plugin {{
  quota = count:User quota
  quota_vsizes = yes
  lazy_expunge = {LAZY_PREFIX}
  # "no" on purpose: "yes" keeps a message only when its file has one link, and a Time Machine
  # snapshot hard-links every message, so nothing older than last midnight would be kept.
  # A message merely moved (its copy kept here too) is left out of the list by
  # mailstore.recently_deleted, which shows only what is no longer anywhere in the mailbox.
  lazy_expunge_only_last_instance = no
  quota_clone_dict = proxy::quotaclone
{chr(10).join(warnings)}
  sieve = file:~/sieve;active=~/.dovecot.sieve
  # Everything Sieve sends is attributed by the relay listener to the mailbox whose script ran
  # (mta.handler._relay_admit): a redirect leaves with the mailbox as envelope sender, or, when
  # the message it redirects had the null sender (Pigeonhole keeps <> then), with Pigeonhole's
  # X-Sieve-Redirected-From naming it; a vacation reply leaves with the mailbox as envelope
  # sender (counted against its send limit; a bounce of it comes back to the mailbox).
  sieve_redirect_envelope_from = recipient
  sieve_vacation_send_from_recipient = yes
  # reject/ereject and enotify's mailto send mail as Dovecot's postmaster with the null sender:
  # nothing in it names the mailbox, the relay would refuse it, so an upload is refused instead.
  sieve_extensions = -reject -ereject -enotify
{junk.plugin_settings(d, learning=bool(config.rspamd_controller_url))}
}}

protocol imap {{
  mail_plugins = $mail_plugins imap_quota{" imap_sieve" if config.rspamd_controller_url else ""}
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}

service imap-login {{
{login_mode}  inet_listener imap {{
    address = {bind}
    port = {p["imap"]}
  }}
  inet_listener imaps {{
    address = {bind}
    port = {p["imaps"]}
    ssl = yes
  }}
}}
service pop3-login {{
{login_mode}  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    address = {bind}
    port = {p["pop3s"]}
    ssl = yes
  }}
}}
service managesieve-login {{
  inet_listener sieve {{
    address = {bind}
    port = {p["sieve"]}
  }}
}}
service lmtp {{
  # Internal only (MAILSUITE_INTERNAL_BIND): only the project's SMTP server delivers here.
  inet_listener lmtp {{
    address = {config.internal_bind}
    port = {p["lmtp"]}
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0660
    user = {config.vmail_user}
    group = {vmail_group}
  }}
}}
service dict {{
  unix_listener dict {{
    mode = 0660
    user = {config.vmail_user}
    group = {vmail_group}
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
{penalty}service quota-warning {{
  executable = script {d / "quota-warning.py"}
  user = {config.vmail_user}
  unix_listener quota-warning {{
    mode = 0660
    user = {config.vmail_user}
    group = {vmail_group}
  }}
}}
{extra}"""
