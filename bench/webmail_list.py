"""Webmail list and message timings against a bare IMAP client, same run, same folder, under
production settings.

Creates a scratch database (bench_mailsuite_webmail, dropped at the end), a private Dovecot on
free ports in a temporary directory, one mailbox with a 10,000-message INBOX (MULTIAPPEND).
Then it starts the web app as docker-compose.yml runs it: gunicorn (sync workers) serving
mailsuite.wsgi over HTTP on a free 127.0.0.1 port, MAILSUITE_DEBUG=0, production secrets,
persistent database connections (CONN_MAX_AGE), static files by WhiteNoise, behind a
TLS-terminating proxy on loopback (MAILSUITE_TRUSTED_PROXIES=127.0.0.1, X-Forwarded-Proto: https,
so the secure session cookie is a real one). A keep-alive HTTP client (http.client) logs in
through the login form and requests N times, alternating with the bare side:
  - the first page of INBOX sorted by date (GET /webmail/mail/?f=INBOX), and
  - one message (GET /webmail/message/<uid>/),
and beside them a bare imapclient doing the same SELECT + SORT + FETCH of the same 50 messages
(and a FETCH of one whole message), on a connection kept open.
Prints median and p95 and the ratio. Target (issue #11): first-page p95 <= 1.2x the bare fetch.

    .venv/bin/python bench/webmail_list.py [-n 200] [--messages 10000] [--workers 2] [--runs 3]

BENCH_PROFILE=1 profiles the list view in this process instead (Django's test client over
"https", the same database and Dovecot; BENCH_PROFILE_SORT picks the pstats order, default
cumulative; BENCH_PROFILE_OUT=file also saves the stats), and prints the database queries of
one request. The settings are this process's:
for production ones (the cached template loader), run it with MAILSUITE_DEBUG=0 and the
production secrets set (MAILSUITE_SECRET_KEY, MAILSUITE_ALLOWED_HOSTS=testserver,
MAILSUITE_INTERNAL_API_TOKEN, MAILSUITE_MAILSTORE_MASTER_PASSWORD).
"""

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_DATABASE", "bench_mailsuite_webmail")
os.environ.setdefault("MAILSUITE_ARGON2_TIME_COST", "1")
os.environ.setdefault("MAILSUITE_ARGON2_MEMORY_COST", "8192")
os.environ.setdefault("MAILSUITE_ARGON2_PARALLELISM", "1")
# Dovecot's PostgreSQL role is cluster-wide: the scratch database's migrations create it and set
# its password. A role of the bench's own, with a password of its own, leaves the role that the
# tests (and a development instance) on the same cluster log in with untouched.
os.environ["MAILSUITE_DOVECOT_DB_USER"] = os.environ.get("BENCH_DOVECOT_DB_USER", "mailsuite_dovecot_bench")
os.environ["MAILSUITE_DOVECOT_DB_PASSWORD"] = "bench-dovecot-db-" + uuid.uuid4().hex

import django  # noqa: E402
from timing import percentile, timed  # noqa: E402

HOST = "webmail.bench.test"
MASTER_PASSWORD = "bench-master-password-" + uuid.uuid4().hex  # shared by Dovecot and gunicorn
PER_PAGE = 50


def message(i: int) -> bytes:
    day = 1 + i % 28
    # Every fifth message answers the one before it: the corpus has threads (THREAD=REFERENCES).
    refs = f"In-Reply-To: <bench-{i - 1}@example.test>\r\n" if i % 5 else ""
    return (
        f"From: Sender {i % 97} <sender{i % 97}@example.test>\r\nTo: bench@bench.test\r\n"
        f"Subject: Message number {i} about topic {i % 13}\r\n"
        f"Date: {day:02d} Feb 2026 10:{i % 60:02d}:00 +0100\r\n"
        f"Message-ID: <bench-{i}@example.test>\r\n{refs}MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + ("Lorem ipsum dolor sit amet. " * (5 + i % 40))
        + "\r\n"
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200, help="requests of each kind per run")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--runs", type=int, default=3, help="measured runs (same server, same corpus)")
    parser.add_argument(
        "--flat", action="store_true", help="the user's conversations switched off (one row per message)"
    )
    args = parser.parse_args()

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.MAILSTORE_MASTER_PASSWORD = MASTER_PASSWORD
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    root = Path(tempfile.mkdtemp(prefix="wmbench-", dir="/tmp"))
    root.chmod(0o755)
    from mailstore import dovecot

    config = None
    try:
        from tests.protocol.mailplane import scratch_config

        config = scratch_config(root)
        settings.MAIL_PORTS.update(config.ports)
        settings.MAIL_BIND = "127.0.0.1"
        dovecot.start(config)
        address, password = load(args)
        if os.environ.get("BENCH_PROFILE"):
            profile(address, password)
        else:
            with gunicorn(settings, config, root, workers=args.workers) as port:
                run(args, port, address, password)
    finally:
        if config is not None:
            dovecot.stop(config)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(root, ignore_errors=True)


def load(args) -> tuple[str, str]:
    from mailstore.imap import LiveMailbox
    from tests.factories import MAILBOX_PASSWORD, DomainFactory, MailboxFactory
    from webmail.services import preferences_update

    mailbox = MailboxFactory(domain=DomainFactory(name="bench.test"), local_part="bench")
    preferences_update(user=mailbox.user, threaded=not args.flat)
    loader = LiveMailbox(mailbox.address).open()
    start = time.perf_counter()
    batch = 500
    for first in range(0, args.messages, batch):
        loader.multiappend("INBOX", [message(i) for i in range(first, min(args.messages, first + batch))])
    for name in ("Drafts", "Sent", "Junk", "Trash", "Lavoro", "Lavoro/Clienti"):
        try:
            loader.create_folder(name)
        except Exception:  # noqa: BLE001,S110 - the special folders may exist already
            pass
    print(f"loaded {args.messages} messages in {time.perf_counter() - start:.1f} s")
    loader.logout()
    return mailbox.address, MAILBOX_PASSWORD


class gunicorn:  # noqa: N801 - used as a context manager like a function
    """gunicorn with production settings on a free loopback port, on the scratch database."""

    def __init__(
        self,
        settings,
        config,
        root: Path,
        *,
        workers: int,
        args: tuple[str, ...] = (),
        extra_env: dict | None = None,
    ):
        """`args`: more gunicorn options; `extra_env`: more (or other) MAILSUITE_* variables."""
        from django.db import connection

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        db = connection.settings_dict
        url = f"postgres://{db['USER']}" + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        url += f"@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSUITE_")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "mailsuite.settings",
                "MAILSUITE_DEBUG": "0",
                "MAILSUITE_SECRET_KEY": "bench-secret-key-" + uuid.uuid4().hex * 2,
                "MAILSUITE_ALLOWED_HOSTS": HOST,
                "MAILSUITE_TRUSTED_PROXIES": "127.0.0.1",
                "MAILSUITE_INTERNAL_API_TOKEN": "bench-internal-token-" + uuid.uuid4().hex,
                "MAILSUITE_DOVECOT_DB_USER": os.environ["MAILSUITE_DOVECOT_DB_USER"],
                "MAILSUITE_DOVECOT_DB_PASSWORD": os.environ["MAILSUITE_DOVECOT_DB_PASSWORD"],
                "MAILSUITE_MAILSTORE_MASTER_PASSWORD": MASTER_PASSWORD,
                "MAILSUITE_DATABASE_URL": url,
                "MAILSUITE_DB_CONN_MAX_AGE": "600",
                "MAILSUITE_DATA_DIR": str(root / "data"),
                "MAILSUITE_MAIL_BIND": "127.0.0.1",
                "MAILSUITE_PORT_IMAP": str(config.ports["imap"]),
                "MAILSUITE_CACHE_PREFIX": f"bench-{uuid.uuid4().hex[:12]}",
                "MAILSUITE_EMAIL_URL": "dummymail://",
                "MAILSUITE_LOG_LEVEL": "WARNING",
            }
        )
        env.update(extra_env or {})
        self.env, self.workers, self.log, self.args = env, workers, root / "gunicorn.log", tuple(args)

    def __enter__(self) -> int:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own venv's gunicorn
                [
                    str(Path(sys.executable).with_name("gunicorn")),
                    "mailsuite.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--forwarded-allow-ips",
                    "",
                    *self.args,
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self.port
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start listening")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Browser:
    """A keep-alive HTTP client with a cookie jar, as seen through the TLS proxy."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.sizes: list[int] = []

    def request(
        self, method: str, path: str, body: dict | None = None, referer: str = ""
    ) -> tuple[int, bytes]:
        headers = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "192.0.2.10",
            "Accept": "text/html",
            "Connection": "keep-alive",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://{HOST}"
            headers["Referer"] = referer or f"https://{HOST}{path}"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        content = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, content


def login(browser: Browser, address: str, password: str) -> None:
    status, page = browser.request("GET", "/webmail/login/")
    assert status == 200, (status, page[:300])
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    status, page = browser.request(
        "POST", "/webmail/login/", {"csrfmiddlewaretoken": token, "login": address, "password": password}
    )
    assert status == 302, (status, page[:500])
    assert "sessionid" in browser.cookies


def run(args, port: int, address: str, password: str) -> None:
    from mailstore.imap import LiveMailbox
    from mailstore.reader import LIST_ITEMS

    browser = Browser(port)
    login(browser, address, password)
    page_path = "/webmail/mail/?f=INBOX"

    def page():
        status, content = browser.request("GET", page_path)
        assert status == 200 and content.count(b'class="wm-row') == PER_PAGE, (status, content[:500])
        browser.sizes.append(len(content))

    bare = LiveMailbox(address).open()

    def bare_page():
        bare.select_folder("INBOX", readonly=True)
        uids = bare.sort(["REVERSE ARRIVAL"], ["ALL"], charset="UTF-8")
        fetched = bare.fetch(uids[:PER_PAGE], LIST_ITEMS)
        assert len(fetched) == PER_PAGE

    bare.select_folder("INBOX", readonly=True)
    target = bare.sort(["REVERSE ARRIVAL"], ["ALL"], charset="UTF-8")[10]
    one_path = f"/webmail/message/{target}/?f=INBOX"

    def one():
        status, content = browser.request("GET", one_path)
        assert status == 200, status

    def bare_one():
        bare.select_folder("INBOX")
        bare.fetch([target], [b"BODY.PEEK[]", b"FLAGS", b"INTERNALDATE"])

    # Warm-up: Dovecot's caches, every gunicorn worker's imports, pooled IMAP connection and
    # database connection (a sync worker closes the HTTP connection after each response, so
    # the requests spread over the workers).
    for fn in (page, bare_page, one, bare_one):
        timed(fn, 10 * args.workers)
    time.sleep(2)
    print(f"\ngunicorn, {args.workers} sync workers, DEBUG off, CONN_MAX_AGE 600, over HTTP on loopback")
    rows = "one row per message" if args.flat else "conversations (THREAD=REFERENCES)"
    print(f"{args.n} requests each per run, {args.messages}-message INBOX, by date, {PER_PAGE} a page,", rows)
    ratios = []
    for run_number in range(1, args.runs + 1):
        # Interleaved, one webmail request then the bare equivalent: both sides see the same
        # Dovecot state (measured one after the other, the first side paid for Maildir's
        # "recently changed cur/" window, and the ratio depended on the order).
        results: dict[str, list[float]] = {}
        for pair in (
            (("webmail first page", page), ("bare SORT+FETCH 50", bare_page)),
            (("webmail open message", one), ("bare FETCH message", bare_one)),
        ):
            for name, _fn in pair:
                results[name] = []
            for _ in range(args.n):
                for name, fn in pair:
                    results[name] += timed(fn, 1)
        print(f"\nrun {run_number}        {'median ms':>10} {'p95 ms':>10}")
        for name, values in results.items():
            print(f"{name:24} {statistics.median(values):10.2f} {percentile(values, 95):10.2f}")
        ratio = percentile(results["webmail first page"], 95) / percentile(results["bare SORT+FETCH 50"], 95)
        median_ratio = statistics.median(results["webmail first page"]) / statistics.median(
            results["bare SORT+FETCH 50"]
        )
        ratio_msg = percentile(results["webmail open message"], 95) / percentile(
            results["bare FETCH message"], 95
        )
        ratios.append(ratio)
        print(
            f"first page p95 ratio webmail/bare: {ratio:.2f}x "
            f"(median {median_ratio:.2f}x; target p95 <= 1.2x)"
        )
        print(f"open message p95 ratio webmail/bare: {ratio_msg:.2f}x")
    print(f"\nlist page HTML: {statistics.median(browser.sizes) / 1024:.1f} KB")
    print(f"first page p95 ratios over {args.runs} runs: {', '.join(f'{r:.2f}x' for r in ratios)}")
    bare.logout()


def profile(address: str, password: str) -> None:
    """The list view in this process under cProfile (Django's test client)."""
    import cProfile
    import pstats

    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment

    from mailstore.pool import POOL

    settings.ALLOWED_HOSTS = ["testserver"]
    setup_test_environment()
    client = Client(REMOTE_ADDR="127.0.0.1")
    login = client.post("/webmail/login/", {"login": address, "password": password}, secure=True)
    assert login.status_code == 302, login.status_code

    def page():
        response = client.get("/webmail/mail/", {"f": "INBOX"}, secure=True)
        assert response.status_code == 200 and response.content.count(b'class="wm-row') == PER_PAGE

    timed(page, 10)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        page()
    print(f"{len(queries)} database queries a list page:")
    for q in queries.captured_queries:
        print("  ", q["sql"][:160])
    profiler = cProfile.Profile()
    profiler.runcall(timed, page, 50)
    if os.environ.get("BENCH_PROFILE_OUT"):
        profiler.dump_stats(os.environ["BENCH_PROFILE_OUT"])
    pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(45)
    POOL.close_all()


if __name__ == "__main__":
    main()
