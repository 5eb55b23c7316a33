"""mailsuite settings, driven by environment variables (django-environ).

Production is the default: MAILSUITE_DEBUG is off unless set, and then the process refuses to
start without SECRET_KEY, ALLOWED_HOSTS and the other secrets, or with their development
placeholders. The development set-up (scripts/setup.sh) writes MAILSUITE_DEBUG=1 to `.env`, for
`make run` and `make test`; the development defaults then work on a machine with PostgreSQL and
Redis on loopback.
"""

import datetime
import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from core.portals import REGISTRY as PORTAL_REGISTRY

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("MAILSUITE_DEBUG", default=False)

# The development values of the secrets. Refused with DEBUG off, as is any value still starting
# with "change-me" (the placeholders of docs/production.env.example).
DEVELOPMENT_SECRETS = {
    "MAILSUITE_SECRET_KEY": "dev-only-insecure-key-do-not-use-in-production",
    "MAILSUITE_INTERNAL_API_TOKEN": "dev-internal-token",
    "MAILSUITE_DOVECOT_DB_PASSWORD": "dev-dovecot-db",
    "MAILSUITE_MAILSTORE_MASTER_PASSWORD": "dev-master-password",
}


def _secret(name: str) -> str:
    value = env.str(name, default="")
    if DEBUG:
        return value or DEVELOPMENT_SECRETS[name]
    if not value:
        raise ImproperlyConfigured(f"{name} is required when MAILSUITE_DEBUG is off.")
    if value == DEVELOPMENT_SECRETS[name] or value.lower().startswith("change-me"):
        raise ImproperlyConfigured(
            f"{name} is a placeholder; set a random value (openssl rand -hex 32) when MAILSUITE_DEBUG is off."
        )
    return value


SECRET_KEY = _secret("MAILSUITE_SECRET_KEY")
ALLOWED_HOSTS = env.list("MAILSUITE_ALLOWED_HOSTS", default=[])
if not DEBUG:
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("MAILSUITE_ALLOWED_HOSTS is required when MAILSUITE_DEBUG is off.")
else:
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]", ".localhost", "testserver"]

# Runtime data (Dovecot config and sockets, mail store, spool, snapshots, archive blobs).
DATA_DIR = Path(env.str("MAILSUITE_DATA_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "backoffice.apps.BackofficeAdminConfig",  # django.contrib.admin behind the portal login
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mailsuite",
    "core",
    "accounts",
    "domains",
    "mta",
    "mailstore",
    "webmail",
    "timemachine",
    "archiving",  # the Archive's domain code; app label "archive"
    "archive",  # the Archive portal
    "billing",
    "monitor",
    "snapshots",
    "devices",  # phones and tablets on ActiveSync, their sync state
    "mailadmin",
    "customer",
    "internal",
    "activesync",  # Exchange ActiveSync at /Microsoft-Server-ActiveSync
    "portalkit",  # the design system's template tags (icon, brand_of)
]

MIDDLEWARE = [
    # First: X-Forwarded-* only from trusted proxies, the internal host only for /internal/ and
    # /healthz; both before SecurityMiddleware reads the scheme and the host.
    "core.client_address.ProxyHeadersMiddleware",
    "mailsuite.portals.InternalHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mailsuite.portals.PortalHostMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # Static files in production: gunicorn serves the collected files itself (runserver does in development).
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                      "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "mailsuite.urls"
WSGI_APPLICATION = "mailsuite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("MAILSUITE_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/mailsuite"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("MAILSUITE_DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})
DATABASES["default"]["TEST"]["NAME"] = env.str("MAILSUITE_TEST_DATABASE", default="test_mailsuite")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env.str("MAILSUITE_REDIS_URL", default="redis://127.0.0.1:6379/0")


def _redis_db_url(url: str, db: int) -> str:
    """The same Redis server, another database number."""
    parts = urlsplit(url)
    return parts._replace(path=f"/{db}").geturl()


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("MAILSUITE_CACHE_URL", default="redis://127.0.0.1:6379/1"),
        "KEY_PREFIX": env.str("MAILSUITE_CACHE_PREFIX", default="mailsuite"),
    }
}

# Dovecot can verify Argon2 hashes ({ARGON2ID}); it cannot verify PBKDF2. Argon2 stays first.
PASSWORD_HASHERS = [
    "accounts.hashers.MailArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Argon2 cost; the defaults are Django's. Tests lower them (Dovecot reads them from each hash).
ARGON2_TIME_COST = env.int("MAILSUITE_ARGON2_TIME_COST", default=2)
ARGON2_MEMORY_COST = env.int("MAILSUITE_ARGON2_MEMORY_COST", default=102400)
ARGON2_PARALLELISM = env.int("MAILSUITE_ARGON2_PARALLELISM", default=8)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "it"
LANGUAGES = [("it", _("Italian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Rome"
USE_I18N = True
USE_TZ = True

STATIC_URL = env.str("MAILSUITE_STATIC_URL", default="/static/")
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("MAILSUITE_STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
MEDIA_URL = env.str("MAILSUITE_MEDIA_URL", default="/media/")
MEDIA_ROOT = Path(env.str("MAILSUITE_MEDIA_ROOT", default=str(DATA_DIR / "media")))

SESSION_COOKIE_AGE = env.int("MAILSUITE_SESSION_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# TLS in production: plain HTTP is redirected to HTTPS, except the internal endpoints and the
# health check, which Dovecot and the container's health check call over plain HTTP on loopback.
SECURE_SSL_REDIRECT = env.bool("MAILSUITE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^internal/", r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("MAILSUITE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("MAILSUITE_HSTS_INCLUDE_SUBDOMAINS", default=False)

# Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto are
# believed (core.client_address). Empty: the peer is the client and every request's scheme
# is the connection's own. From any other peer those headers are removed before Django reads them.
TRUSTED_PROXIES = env.list("MAILSUITE_TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"MAILSUITE_TRUSTED_PROXIES: {_proxy!r} is not an address or network."
        ) from exc
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None

# Portals (declared in core.portals.REGISTRY). In development every portal lives under a path
# prefix of one host; in production each has a host name of its own (MAILSUITE_HOST_<PORTAL>),
# routed by PortalHostMiddleware; links in emails are built by core.portals.portal_url.
PORTALS = [_portal.name for _portal in PORTAL_REGISTRY]
PORTAL_HOSTS = {
    _portal.name: env.str(_portal.host_setting, default="").strip().lower() for _portal in PORTAL_REGISTRY
}
_portal_hosts = [host for host in PORTAL_HOSTS.values() if host]
if len(set(_portal_hosts)) != len(_portal_hosts):
    raise ImproperlyConfigured("MAILSUITE_HOST_<PORTAL>: each portal needs a host name of its own.")
# Base of the links to portals served under a prefix (development); unused for a portal with a host.
PUBLIC_BASE_URL = env.str("MAILSUITE_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# Mail plane.
MAIL_HOSTNAME = env.str("MAILSUITE_MAIL_HOSTNAME", default="mail.localhost")
MAIL_BIND = env.str("MAILSUITE_MAIL_BIND", default="127.0.0.1")
# Address of the internal listeners (Dovecot's LMTP, the SMTP server's Sieve relay listener):
# loopback, or an address of a private network between the mail hosts; never the public one.
INTERNAL_BIND = env.str("MAILSUITE_INTERNAL_BIND", default="127.0.0.1")
MAIL_PORTS = {
    "smtp_mx": env.int("MAILSUITE_PORT_MX", default=10025),
    # Loopback-only listener for mail Dovecot's Sieve sends (vacation replies, redirects).
    "relay": env.int("MAILSUITE_PORT_RELAY", default=10026),
    "smtps": env.int("MAILSUITE_PORT_SMTPS", default=10465),
    "submission": env.int("MAILSUITE_PORT_SUBMISSION", default=10587),
    "imap": env.int("MAILSUITE_PORT_IMAP", default=10143),
    "imaps": env.int("MAILSUITE_PORT_IMAPS", default=10993),
    "pop3s": env.int("MAILSUITE_PORT_POP3S", default=10995),
    "lmtp": env.int("MAILSUITE_PORT_LMTP", default=10024),
    "sieve": env.int("MAILSUITE_PORT_SIEVE", default=14190),
}
# Aliases, lists and forwarders (domains.addresses): the longest chain an address may expand
# through, and the most final recipients (mailboxes + external copies) one address may reach.
ADDRESS_MAX_DEPTH = env.int("MAILSUITE_ADDRESS_MAX_DEPTH", default=8)
ADDRESS_MAX_RECIPIENTS = env.int("MAILSUITE_ADDRESS_MAX_RECIPIENTS", default=500)
# What mail programs are told (Thunderbird autoconfig, Outlook autodiscover, the Apple profile,
# the webmail's app-password page): the public host names and ports of the FAQ (IMAP 993, POP3
# 995, SMTP 465, all implicit TLS), which may differ from the listeners' own ports above.
MAIL_CLIENT_IMAP = (
    env.str("MAILSUITE_CLIENT_IMAP_HOST", default=MAIL_HOSTNAME),
    env.int("MAILSUITE_CLIENT_IMAP_PORT", default=993),
)
MAIL_CLIENT_POP3 = (
    env.str("MAILSUITE_CLIENT_POP3_HOST", default=MAIL_HOSTNAME),
    env.int("MAILSUITE_CLIENT_POP3_PORT", default=995),
)
MAIL_CLIENT_SMTP = (
    env.str("MAILSUITE_CLIENT_SMTP_HOST", default=MAIL_HOSTNAME),
    env.int("MAILSUITE_CLIENT_SMTP_PORT", default=465),
)
SMTP_MAX_MESSAGE_SIZE = env.int("MAILSUITE_SMTP_MAX_MESSAGE_SIZE", default=50 * 1024 * 1024)
# Peers allowed on the relay listener (Dovecot hosts): they may send to remote addresses without
# AUTH, as a hosted mailbox (counted against its send limit) or with the null sender (auto-replies).
SMTP_RELAY_TRUSTED_NETWORKS = env.list(
    "MAILSUITE_SMTP_RELAY_TRUSTED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
)
# Seconds an MX process remembers that a hosted mailbox exists (RCPT); 0 turns the cache off.
SMTP_ROUTE_CACHE_SECONDS = env.int("MAILSUITE_SMTP_ROUTE_CACHE_SECONDS", default=5)
SMTP_MAX_RECIPIENTS = env.int("MAILSUITE_SMTP_MAX_RECIPIENTS", default=150)
OUTBOUND_RELAY = env.str("MAILSUITE_OUTBOUND_RELAY", default="")  # host:port, empty = MX lookup
# Outbound queue (mta): a message not delivered after OUTBOUND_MAX_AGE seconds bounces (DSN).
OUTBOUND_MAX_AGE = env.int("MAILSUITE_OUTBOUND_MAX_AGE", default=5 * 24 * 3600)
OUTBOUND_RETRY_BASE = env.int("MAILSUITE_OUTBOUND_RETRY_BASE", default=60)  # seconds, doubled per attempt
OUTBOUND_RETRY_MAX = env.int("MAILSUITE_OUTBOUND_RETRY_MAX", default=3600)
OUTBOUND_TIMEOUT = env.int("MAILSUITE_OUTBOUND_TIMEOUT", default=60)
# Where smtpd delivers local mail (Dovecot LMTP over TCP).
LMTP_HOST = env.str("MAILSUITE_LMTP_HOST", default=INTERNAL_BIND)
# Daily external send limits: Redis counters (one key per mailbox and local day).
SENDLIMIT_REDIS_URL = env.str("MAILSUITE_SENDLIMIT_REDIS_URL", default=REDIS_URL)
SENDLIMIT_KEY_PREFIX = env.str("MAILSUITE_SENDLIMIT_KEY_PREFIX", default="mailsuite:sendlimit")
TLS_CERT_FILE = env.str("MAILSUITE_TLS_CERT", default=str(DATA_DIR / "tls" / "cert.pem"))
TLS_KEY_FILE = env.str("MAILSUITE_TLS_KEY", default=str(DATA_DIR / "tls" / "key.pem"))
DOVECOT_DIR = Path(env.str("MAILSUITE_DOVECOT_DIR", default=str(DATA_DIR / "dovecot")))
MAIL_STORE_DIR = Path(env.str("MAILSUITE_MAIL_STORE_DIR", default=str(DATA_DIR / "mail")))
# Time Machine snapshots (mailstore.snapshots): on the mail store's file system for the default
# hard-link backend; a site on ZFS/btrfs names its own backend (docs/operations.md).
# The DNS server the suite asks (SPF/DKIM/DMARC checks, the control panel's DNS page): "host:port",
# or empty for the system's resolver (/etc/resolv.conf). The tests point it at their own server.
DNS_RESOLVER = env.str("MAILSUITE_DNS_RESOLVER", default="")
# The control panel's DNS page (domains.dnscheck): seconds per lookup, seconds its results are
# kept, and what each hosted domain should publish: MX hosts, SPF, DMARC ({domain} is replaced),
# and the host its autoconfig./autodiscover. names point to (a CNAME; any host of the web tier).
DNS_CHECK_TIMEOUT = env.float("MAILSUITE_DNS_CHECK_TIMEOUT", default=2.0)
DNS_CHECK_CACHE_SECONDS = env.int("MAILSUITE_DNS_CHECK_CACHE_SECONDS", default=120)
DNS_MX_HOSTS = env.list("MAILSUITE_DNS_MX_HOSTS", default=[MAIL_HOSTNAME])
DNS_SPF_RECORD = env.str("MAILSUITE_DNS_SPF_RECORD", default="v=spf1 mx -all")
DNS_DMARC_RECORD = env.str(
    "MAILSUITE_DNS_DMARC_RECORD", default="v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"
)
DNS_CLIENT_SETUP_HOST = env.str(
    "MAILSUITE_DNS_CLIENT_SETUP_HOST", default=PORTAL_HOSTS.get("webmail") or MAIL_HOSTNAME
)
# DKIM (domains.dkim, mta.dkimsign): key size; the secret the stored private keys are encrypted
# with (empty: derived from SECRET_KEY, whose SECRET_KEY_FALLBACKS still open older keys); whether
# domain_register makes the first key at once (the tests turn it off: keys are then made on
# first need, by the DNS page or the periodic check); how long a replaced key stays published.
DKIM_KEY_BITS = env.int("MAILSUITE_DKIM_KEY_BITS", default=2048)
DKIM_KEY_SECRET = env.str("MAILSUITE_DKIM_KEY_SECRET", default="")
DKIM_KEYS_AT_REGISTRATION = env.bool("MAILSUITE_DKIM_KEYS_AT_REGISTRATION", default=True)
DKIM_RETIRE_GRACE_DAYS = env.int("MAILSUITE_DKIM_RETIRE_GRACE_DAYS", default=7)
# Inbound filtering (mta.rspamd, mta.filtering): the suite's own rspamd (`manage.py rspamd`).
# RSPAMD_URL is its normal worker (the MX asks POST /checkv2 before every 250), the controller
# takes learning (Junk moves, through Dovecot's IMAPSieve) and /stat. Both listen on the URL's
# host: loopback or an internal address, never the public one.
RSPAMD_URL = env.str("MAILSUITE_RSPAMD_URL", default=f"http://{INTERNAL_BIND}:11333")
RSPAMD_CONTROLLER_URL = env.str("MAILSUITE_RSPAMD_CONTROLLER_URL", default=f"http://{INTERNAL_BIND}:11334")
# The controller's password for peers outside loopback; empty = loopback peers only.
RSPAMD_PASSWORD = env.str("MAILSUITE_RSPAMD_PASSWORD", default="")
RSPAMD_DIR = Path(env.str("MAILSUITE_RSPAMD_DIR", default=str(DATA_DIR / "rspamd")))
# Its own database number of the project's Redis (Bayes tokens, greylisting, history).
RSPAMD_REDIS_URL = env.str("MAILSUITE_RSPAMD_REDIS_URL", default=_redis_db_url(REDIS_URL, 4))
RSPAMD_TIMEOUT = env.float("MAILSUITE_RSPAMD_TIMEOUT", default=20.0)  # seconds per scan
# rspamd down or too slow: "no" (default) answers 451 and the sender retries (nothing lost);
# "yes" accepts the message unfiltered, with an X-Spam-Status header saying it was not scanned.
RSPAMD_FAIL_OPEN = env.bool("MAILSUITE_RSPAMD_FAIL_OPEN", default=False)
RSPAMD_FILTERING = env.bool("MAILSUITE_RSPAMD_FILTERING", default=True)  # off: the MX asks nothing
RSPAMD_SPAM_SCORE = env.float("MAILSUITE_RSPAMD_SPAM_SCORE", default=6.0)  # Junk at or above
RSPAMD_REJECT_SCORE = env.float("MAILSUITE_RSPAMD_REJECT_SCORE", default=15.0)  # 5xx at or above
RSPAMD_GREYLISTING = env.bool("MAILSUITE_RSPAMD_GREYLISTING", default=False)
# Block lists, fuzzy hashes and URL lists asked over the Internet; off on a machine without it.
RSPAMD_NETWORK_CHECKS = env.bool("MAILSUITE_RSPAMD_NETWORK_CHECKS", default=True)
# ClamAV (mta.clamav), optional: rspamd's antivirus module asks clamd (`manage.py clamd`) about
# every MX message; a virus → 554, clamd unreachable → 451 (retried, never delivered unscanned).
# CLAMAV_SOCKET is clamd's "host:port" (internal addresses only) or a Unix socket path; its
# signatures are read from CLAMAV_DATABASE_DIR, which freshclam must keep up to date.
CLAMAV = env.bool("MAILSUITE_CLAMAV", default=False)
CLAMAV_SOCKET = env.str("MAILSUITE_CLAMAV_SOCKET", default=f"{INTERNAL_BIND}:3310")
CLAMAV_DIR = Path(env.str("MAILSUITE_CLAMAV_DIR", default=str(DATA_DIR / "clamav")))
CLAMAV_DATABASE_DIR = Path(env.str("MAILSUITE_CLAMAV_DATABASE_DIR", default="/var/lib/clamav"))
SNAPSHOT_DIR = Path(env.str("MAILSUITE_SNAPSHOT_DIR", default=str(DATA_DIR / "snapshots")))
SNAPSHOT_BACKEND = env.str("MAILSUITE_SNAPSHOT_BACKEND", default="mailstore.snapshots.HardlinkSnapshots")
SNAPSHOT_RETENTION_DAYS = 15
SNAPSHOT_LATE_AFTER = datetime.timedelta(hours=1)  # a snapshot taken later than this after midnight is "late"
SPOOL_DIR = Path(env.str("MAILSUITE_SPOOL_DIR", default=str(DATA_DIR / "spool")))
# The Archive (archiving): blob store backend and its directory (file-system backend), the search
# backend, the purge's batch size. See archiving/blobstore/__init__.py and archiving/search.py.
ARCHIVE_BLOB_STORE = env.str(
    "MAILSUITE_ARCHIVE_BLOB_STORE", default="archiving.blobstore.filesystem.FileSystemBlobStore"
)
ARCHIVE_BLOB_DIR = Path(env.str("MAILSUITE_ARCHIVE_BLOB_DIR", default=str(DATA_DIR / "archive")))
ARCHIVE_SEARCH_BACKEND = env.str(
    "MAILSUITE_ARCHIVE_SEARCH_BACKEND", default="archiving.search.PostgresSearch"
)
# Journaling writes a new blob into an outbox table in its own transaction (durable with the
# entry, no file fsync on the SMTP path), drained into the blob store every minute; off: the blob
# is written and fsynced into the store before the 250.
ARCHIVE_BLOB_OUTBOX = env.bool("MAILSUITE_ARCHIVE_BLOB_OUTBOX", default=True)
ARCHIVE_PURGE_BATCH = env.int("MAILSUITE_ARCHIVE_PURGE_BATCH", default=1000)
# Exports (archiving.export): up to this many messages are streamed to the browser at once; more
# are built by a Celery job into ARCHIVE_EXPORT_DIR, and a link valid ARCHIVE_EXPORT_DAYS is emailed.
ARCHIVE_EXPORT_STREAM_MAX = env.int("MAILSUITE_ARCHIVE_EXPORT_STREAM_MAX", default=2000)
ARCHIVE_EXPORT_DIR = Path(env.str("MAILSUITE_ARCHIVE_EXPORT_DIR", default=str(DATA_DIR / "archive-exports")))
ARCHIVE_EXPORT_DAYS = env.int("MAILSUITE_ARCHIVE_EXPORT_DAYS", default=7)
# Import wizard (archiving.importing): messages per transaction (progress is saved with each),
# and an optional pause between batches (seconds) to spare a busy Dovecot.
ARCHIVE_IMPORT_BATCH = env.int("MAILSUITE_ARCHIVE_IMPORT_BATCH", default=50)
ARCHIVE_IMPORT_PAUSE = env.float("MAILSUITE_ARCHIVE_IMPORT_PAUSE", default=0.0)
ARCHIVE_IMPORT_QUEUE = env.str("MAILSUITE_ARCHIVE_IMPORT_QUEUE", default="archive")
VMAIL_USER = env.str("MAILSUITE_VMAIL_USER", default="vmail")
# Shared secret of the internal endpoints Dovecot calls (auth policy, quota warnings); loopback only.
INTERNAL_API_TOKEN = _secret("MAILSUITE_INTERNAL_API_TOKEN")
# Dovecot (mailstore.dovecot). It reads the mailstore SQL views as its own PostgreSQL role.
DOVECOT_DB_USER = env.str("MAILSUITE_DOVECOT_DB_USER", default="mailsuite_dovecot")
DOVECOT_DB_PASSWORD = _secret("MAILSUITE_DOVECOT_DB_PASSWORD")
# Master user of the project's own services (webmail, snapshots, restores): "<address>*<user>", loopback only.
MAILSTORE_MASTER_USER = env.str("MAILSUITE_MAILSTORE_MASTER_USER", default="mailsuite")
MAILSTORE_MASTER_PASSWORD = _secret("MAILSUITE_MAILSTORE_MASTER_PASSWORD")
# Where Dovecot (and the container's health check) reach the web process: the internal endpoints
# (auth policy, quota warnings) and /healthz. Its host name is accepted for those paths only, even
# when it is not in ALLOWED_HOSTS (mailsuite.portals.InternalHostMiddleware).
INTERNAL_BASE_URL = env.str("MAILSUITE_INTERNAL_BASE_URL", default="http://127.0.0.1:8000")
_internal_host = (urlsplit(INTERNAL_BASE_URL).hostname or "").lower()
if ":" in _internal_host:
    _internal_host = f"[{_internal_host}]"  # an IPv6 address, spelt as in a Host header
INTERNAL_ONLY_HOSTS = [_internal_host] if _internal_host and _internal_host not in ALLOWED_HOSTS else []
ALLOWED_HOSTS = [*ALLOWED_HOSTS, *INTERNAL_ONLY_HOSTS]
# What a login gets when the brute-force check cannot be made (web process unreachable, Redis
# down): "closed" refuses it (Dovecot's auth_policy_reject_on_fail = yes, and the endpoint
# answers "refuse" when Redis fails), "open" lets Dovecot check the password alone.
# Closed by default: a broken check must be loud, not silently switch blocking off.
AUTH_POLICY_FAIL_MODE = env.str("MAILSUITE_AUTH_POLICY_FAIL_MODE", default="closed").strip().lower()
if AUTH_POLICY_FAIL_MODE not in ("closed", "open"):
    raise ImproperlyConfigured("MAILSUITE_AUTH_POLICY_FAIL_MODE must be 'closed' or 'open'.")
# Host:port Sieve (vacation, redirect) hands its outgoing mail to: our SMTP server on loopback.
DOVECOT_SUBMISSION_HOST = env.str(
    "MAILSUITE_DOVECOT_SUBMISSION_HOST", default=f"{INTERNAL_BIND}:{MAIL_PORTS['relay']}"
)
DOVECOT_AUTH_FAILURE_DELAY = env.int("MAILSUITE_DOVECOT_AUTH_FAILURE_DELAY", default=2)  # seconds
# Verified-credential cache of mail logins (mailstore.authcache): after one Argon2 verification
# the same login and password cost one keyed hash for this long. 0 turns it off; at most a day.
MAIL_AUTH_CACHE_SECONDS = env.int("MAILSUITE_MAIL_AUTH_CACHE_SECONDS", default=900)
if not 0 <= MAIL_AUTH_CACHE_SECONDS <= 86400:
    raise ImproperlyConfigured("MAILSUITE_MAIL_AUTH_CACHE_SECONDS must be between 0 and 86400 seconds.")
# Webmail: its IMAP sessions (mailstore.pool) and its own web session.
WEBMAIL_IMAP_IDLE_SECONDS = env.int("MAILSUITE_WEBMAIL_IMAP_IDLE_SECONDS", default=300)  # pooled, unused
WEBMAIL_IMAP_POOL_MAX = env.int("MAILSUITE_WEBMAIL_IMAP_POOL_MAX", default=200)  # per web process
WEBMAIL_IDLE_SECONDS = env.int("MAILSUITE_WEBMAIL_IDLE_SECONDS", default=2 * 3600)  # idle web session
# CA the webmail trusts for its own submission connection (default: the suite's certificate).
WEBMAIL_SUBMISSION_CA = env.str("MAILSUITE_WEBMAIL_SUBMISSION_CA", default="")
WEBMAIL_UPLOAD_DIR = env.str("MAILSUITE_WEBMAIL_UPLOAD_DIR", default="")  # default: DATA_DIR/webmail-uploads
# ActiveSync (activesync/): Ping's heartbeat bounds (MS-ASCMD: 60..3540 s) and, until push
# through Redis, how often a waiting Ping looks at IMAP STATUS. Plain HTTP only behind a TLS
# proxy that does not say so (development: DEBUG allows it).
ACTIVESYNC_HEARTBEAT_MIN = env.int("MAILSUITE_ACTIVESYNC_HEARTBEAT_MIN", default=60)
ACTIVESYNC_HEARTBEAT_MAX = env.int("MAILSUITE_ACTIVESYNC_HEARTBEAT_MAX", default=3540)
# Worker threads of one ActiveSync process for its requests' synchronous part (each keeps a DB connection).
ACTIVESYNC_SYNC_CONCURRENCY = env.int("MAILSUITE_ACTIVESYNC_SYNC_CONCURRENCY", default=8)
# The most a Sync page reads of messages (their RFC822.SIZE), whatever its WindowSize: each of the
# process's concurrent Syncs holds its page in memory.
ACTIVESYNC_PAGE_BYTES = env.int("MAILSUITE_ACTIVESYNC_PAGE_BYTES", default=32 * 1024 * 1024)
# New-mail notifications (mailstore.newmail): the MX publishes, ActiveSync's Ping waits on them.
NEWMAIL_REDIS_URL = env.str("MAILSUITE_NEWMAIL_REDIS_URL", default=REDIS_URL)
NEWMAIL_CHANNEL_PREFIX = env.str("MAILSUITE_NEWMAIL_CHANNEL_PREFIX", default="mailsuite:eas:mailbox:")
ACTIVESYNC_ALLOW_PLAIN_HTTP = env.bool("MAILSUITE_ACTIVESYNC_ALLOW_PLAIN_HTTP", default=DEBUG)
# The time a Sync's FilterType window ("the last week") is measured back from; None: now. Tests
# set it to a later time to let messages age out of a window (activesync.window).
ACTIVESYNC_FILTER_NOW = None
QUOTA_WARNING_LEVELS = (80, 95)  # percent of the quota; one email to the user per crossing
TRACEMAIL_RETENTION_DAYS = env.int("MAILSUITE_TRACEMAIL_RETENTION_DAYS", default=30)
ACCESS_LOG_RETENTION_DAYS = env.int("MAILSUITE_ACCESS_LOG_RETENTION_DAYS", default=30)
# Brute-force blocking of mail and portal logins (accounts.bruteforce): failures counted in Redis
# per login and per remote IP over a window; over the threshold, attempts are refused for BLOCK_SECONDS.
BRUTEFORCE_REDIS_URL = env.str("MAILSUITE_BRUTEFORCE_REDIS_URL", default=REDIS_URL)
BRUTEFORCE_KEY_PREFIX = env.str("MAILSUITE_BRUTEFORCE_KEY_PREFIX", default="mailsuite:bf")
BRUTEFORCE_LOGIN_FAILURES = env.int("MAILSUITE_BRUTEFORCE_LOGIN_FAILURES", default=10)
BRUTEFORCE_IP_FAILURES = env.int("MAILSUITE_BRUTEFORCE_IP_FAILURES", default=30)
BRUTEFORCE_WINDOW_SECONDS = env.int("MAILSUITE_BRUTEFORCE_WINDOW_SECONDS", default=15 * 60)
BRUTEFORCE_BLOCK_SECONDS = env.int("MAILSUITE_BRUTEFORCE_BLOCK_SECONDS", default=15 * 60)
# "Forgot password": the emailed link lives PASSWORD_RESET_TIMEOUT seconds (Django's token,
# void once the password changes); requests are limited per login and per client address over
# a window (accounts.bruteforce.request_allowed); a new recovery address is confirmed within
# RECOVERY_CONFIRM_MAX_AGE seconds.
PASSWORD_RESET_TIMEOUT = env.int("MAILSUITE_PASSWORD_RESET_TIMEOUT", default=3600)
PASSWORD_RECOVERY_LOGIN_LIMIT = env.int("MAILSUITE_PASSWORD_RECOVERY_LOGIN_LIMIT", default=3)
PASSWORD_RECOVERY_IP_LIMIT = env.int("MAILSUITE_PASSWORD_RECOVERY_IP_LIMIT", default=20)
PASSWORD_RECOVERY_WINDOW_SECONDS = env.int("MAILSUITE_PASSWORD_RECOVERY_WINDOW_SECONDS", default=3600)
RECOVERY_CONFIRM_MAX_AGE = env.int("MAILSUITE_RECOVERY_CONFIRM_MAX_AGE", default=3 * 24 * 3600)

# Email the suite itself sends (credentials, notices). SMTP in production; in development a
# file backend, read with `manage.py sentmail`.
if env.str("MAILSUITE_EMAIL_URL", default=""):
    vars().update(env.email_url("MAILSUITE_EMAIL_URL"))
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "sent-email"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("MAILSUITE_EMAIL_HOST", default="127.0.0.1")
    EMAIL_PORT = env.int("MAILSUITE_EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("MAILSUITE_DEFAULT_FROM_EMAIL", default="mailsuite <noreply@mail.localhost>")

# Celery.
CELERY_BROKER_URL = env.str("MAILSUITE_CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("MAILSUITE_CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "mta.tasks.*": {"queue": "delivery"},
    "timemachine.tasks.*": {"queue": "snapshots"},
    # Restores have their own queue: the midnight snapshots must not wait behind a long restore.
    "snapshots.tasks.restore*": {"queue": "restores"},
    "snapshots.tasks.*": {"queue": "snapshots"},
    "archiving.tasks.*": {"queue": "archive"},
    "billing.tasks.*": {"queue": "billing"},
}
CELERY_TASK_ALWAYS_EAGER = env.bool("MAILSUITE_CELERY_EAGER", default=False)
CELERY_WORKER_QUEUES = ["default", "delivery", "snapshots", "restores", "archive", "billing"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("MAILSUITE_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

from mailsuite.beat import CELERY_BEAT_SCHEDULE  # noqa: E402,F401
