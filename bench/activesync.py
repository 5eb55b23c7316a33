"""ActiveSync push (issue 16, item 4): many idle Pings held by one ASGI process.

Creates a scratch database (bench_mailsuite_eas, dropped at the end; its own Dovecot DB role,
bench_eas_dovecot, since migrating sets that role's password), --mailboxes mailboxes with
--devices phones each (app passwords: no Argon2 in the way), a private Dovecot and the suite's
MX (in this process), and runs the ASGI application under uvicorn in a subprocess, as the
`activesync` service does. Every phone provisions, FolderSyncs and syncs its INBOX, then sends a
Ping on INBOX with a long heartbeat over a connection of its own (an asyncio client here). Once
they all wait, it prints the uvicorn process's RSS and thread count (and both before the Pings),
then sends --wakes messages through the MX, each to one mailbox, and prints how long until that
mailbox's Pings answered Status 2 (target: within 2 s), checking that no other Ping answered.

The baseline, in the same run and the same process: one more mailbox with one phone, whose
Ping alone waits while --wakes messages wake it, before the others Ping. The figures end with
the ratios: RSS per waiting Ping against the process's RSS before any Ping, and the wake
latency with every Ping waiting against that with one (the first of the woken mailbox's Pings
to answer, one Ping's wake as in the baseline; the last shows the mailbox's own fan-out too).

    .venv/bin/python bench/activesync.py [--mailboxes 100] [--devices 10] [--wakes 5]
"""

import argparse
import asyncio
import base64
import faulthandler
import os
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode
from xml.etree.ElementTree import Element

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_DATABASE", "bench_mailsuite_eas")
os.environ["MAILSUITE_DOVECOT_DB_USER"] = os.environ.get("BENCH_DOVECOT_DB_USER", "bench_eas_dovecot")
os.environ["MAILSUITE_NEWMAIL_CHANNEL_PREFIX"] = f"bench:{uuid.uuid4().hex}:eas:mailbox:"

import django  # noqa: E402

HEARTBEAT = 1800
PATH = "/Microsoft-Server-ActiveSync"


def E(tag: str, text=None, *children: Element) -> Element:  # noqa: N802
    node = Element(tag)
    if text is not None:
        node.text = str(text)
    node.extend(children)
    return node


class Phone:
    def __init__(self, port: int, login: str, password: str, device_id: str):
        self.port, self.login, self.device_id = port, login, device_id
        self.auth = base64.b64encode(f"{login}:{password}".encode()).decode()
        self.policy_key = ""
        self.inbox = ""
        self.changes: list[float] = []
        self.answered = asyncio.Event()

    async def post(self, command: str, document: Element | None) -> Element | None:
        from activesync.wbxml import decode, encode

        body = encode(document) if document is not None else b""
        query = urlencode(
            {"Cmd": command, "User": self.login, "DeviceId": self.device_id, "DeviceType": "iPhone"}
        )
        head = (
            f"POST {PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Basic {self.auth}\r\nMS-ASProtocolVersion: 14.1\r\n"
            f"Content-Type: application/vnd.ms-sync.wbxml\r\nContent-Length: {len(body)}\r\n"
            + (f"X-MS-PolicyKey: {self.policy_key}\r\n" if self.policy_key else "")
            + "Connection: close\r\n\r\n"
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(head.encode() + body)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        header, _, payload = data.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        if status != 200:
            raise RuntimeError(f"{command}: HTTP {status}")
        if b"transfer-encoding: chunked" in header.lower():
            payload = _unchunk(payload)
        return decode(payload) if payload else None

    async def prepare(self) -> None:
        P, F = "{Provision}", "{FolderHierarchy}"  # noqa: N806
        policy = E(
            f"{P}Policies", None, E(f"{P}Policy", None, E(f"{P}PolicyType", "MS-EAS-Provisioning-WBXML"))
        )
        first = await self.post("Provision", E(f"{P}Provision", None, policy))
        temporary = first.findtext(f"{P}Policies/{P}Policy/{P}PolicyKey")
        ack = E(
            f"{P}Policies",
            None,
            E(
                f"{P}Policy",
                None,
                E(f"{P}PolicyType", "MS-EAS-Provisioning-WBXML"),
                E(f"{P}PolicyKey", temporary),
                E(f"{P}Status", 1),
            ),
        )
        second = await self.post("Provision", E(f"{P}Provision", None, ack))
        self.policy_key = second.findtext(f"{P}Policies/{P}Policy/{P}PolicyKey")
        folders = await self.post("FolderSync", E(f"{F}FolderSync", None, E(f"{F}SyncKey", 0)))
        self.inbox = next(
            add.findtext(f"{F}ServerId") for add in folders.iter(f"{F}Add") if add.findtext(f"{F}Type") == "2"
        )
        self.key = "0"
        for _ in range(2):
            await self.sync()

    async def sync(self) -> None:
        A = "{AirSync}"  # noqa: N806
        key = self.key
        collection = E(
            f"{A}Collection",
            None,
            E(f"{A}SyncKey", key),
            E(f"{A}CollectionId", self.inbox),
            *([E(f"{A}GetChanges")] if key != "0" else []),
        )
        answer = await self.post("Sync", E(f"{A}Sync", None, E(f"{A}Collections", None, collection)))
        self.key = answer.findtext(f"{A}Collections/{A}Collection/{A}SyncKey")

    async def watch(self) -> None:
        """Ping; on Status 2 sync and Ping again, as a phone does. Each Status 2 is recorded."""
        while True:
            status = await self.ping()
            if status == "2":
                self.changes.append(time.perf_counter())
                self.answered.set()
                await self.sync()

    async def ping(self) -> str:
        P = "{Ping}"  # noqa: N806
        folder = E(f"{P}Folder", None, E(f"{P}Id", self.inbox), E(f"{P}Class", "Email"))
        answer = await self.post(
            "Ping", E(f"{P}Ping", None, E(f"{P}HeartbeatInterval", HEARTBEAT), E(f"{P}Folders", None, folder))
        )
        return answer.findtext(f"{P}Status")


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + rest[:size], rest[size + 2 :]
    return out


def proc_status(pid: int) -> tuple[int, int]:
    """(RSS in KiB, threads) of a process."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


def open_files(pid: int) -> tuple[int, int]:
    """(open file descriptors, soft limit of open files) of a process."""
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    soft = next(line.split()[3] for line in limits if line.startswith("Max open files"))
    return len(os.listdir(f"/proc/{pid}/fd")), int(soft)


def systemd_default_limit() -> None:
    """uvicorn starts with the soft open-files limit systemd and Docker give a service (1,024):
    the ASGI application raises it (mailsuite.asgi), or the 1,000th phone is refused."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))


def cpu_ticks(pid: int) -> int:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def message(recipient: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bench@far.example", recipient, f"wake {n}"
    msg.set_content("hello\n")
    return msg.as_bytes()


async def run(args, port: int, pid: int, boxes: list[tuple[str, str]], mx_port: int) -> None:
    import redis
    from django.conf import settings

    from mailstore.newmail import channel

    *boxes, alone = boxes  # the last mailbox: the baseline's one phone
    lone = Phone(port, alone[0], alone[1], "BENCHALONE")
    phones = [
        Phone(port, address, password, f"BENCH{m:04d}D{d:03d}")
        for m, (address, password) in enumerate(boxes)
        for d in range(args.devices)
    ]
    gate = asyncio.Semaphore(8)

    async def prepare(phone: Phone) -> None:
        async with gate:
            await phone.prepare()

    t0 = time.perf_counter()
    await asyncio.gather(*(prepare(p) for p in [*phones, lone]))
    print(f"{len(phones) + 1} phones provisioned and synced in {time.perf_counter() - t0:.1f} s")
    client = redis.Redis.from_url(settings.NEWMAIL_REDIS_URL)
    *ids, alone_id = args.mailbox_ids

    async def settled(tasks: list[asyncio.Task], channels: list[str]) -> None:
        """Every channel subscribed and the process idle: every Ping waits."""
        while True:
            await asyncio.sleep(1.0)
            counts = dict(client.pubsub_numsub(*channels))
            before = cpu_ticks(pid)
            await asyncio.sleep(1.0)
            if all(counts.get(c.encode(), 0) >= 1 for c in channels) and cpu_ticks(pid) - before <= 1:
                break
        for t in tasks:
            if t.done():
                t.result()  # a failed Ping: raise

    # Baseline: one Ping waiting, woken --wakes times.
    lone_task = asyncio.create_task(lone.watch())
    await settled([lone_task], [channel(alone_id)])
    alone_latencies = [last for _first, last in await wakes(args, [lone], [alone], mx_port, quiet=True)]
    lone_task.cancel()
    await asyncio.gather(lone_task, return_exceptions=True)
    print(
        f"baseline, one Ping waiting: wake latency median "
        f"{statistics.median(alone_latencies) * 1000:.0f} ms, max {max(alone_latencies) * 1000:.0f} ms"
    )

    rss0, threads0 = proc_status(pid)
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(p.watch()) for p in phones]
    await settled(tasks, [channel(mailbox_id) for mailbox_id in ids])
    early = sum(len(p.changes) for p in phones)
    rss, threads = proc_status(pid)
    print(
        f"{len(phones)} Pings waiting after {time.perf_counter() - t0:.1f} s ({early} answered Status 2 "
        "before any mail and were synced and sent again, as a phone does)"
    )
    print(
        f"uvicorn RSS: {rss0 / 1024:.1f} MiB before the Pings, {rss / 1024:.1f} MiB with them waiting "
        f"({(rss - rss0) / len(phones):.1f} KiB per Ping); threads {threads0} before, {threads} with them"
    )
    fds, limit = open_files(pid)
    print(f"uvicorn open files with them waiting: {fds} (its soft limit: {limit}, started at 1024)")

    woken = await wakes(args, phones, boxes, mx_port)
    firsts, latencies = [first for first, _last in woken], [last for _first, last in woken]
    median, alone_median = statistics.median(latencies), statistics.median(alone_latencies)
    print(
        f"wake latency with {len(phones)} Pings waiting, to the last of the mailbox's "
        f"{args.devices}: median {median * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
        f"(target 2000 ms); to the first: median {statistics.median(firsts) * 1000:.0f} ms, "
        f"max {max(firsts) * 1000:.0f} ms"
    )
    print(
        f"ratios: RSS per waiting Ping / RSS before the Pings = {(rss - rss0) / len(phones) / rss0:.5f} "
        f"({rss0 / max(1.0, (rss - rss0) / len(phones)):.0f} Pings weigh one idle process); "
        f"wake latency median with {len(phones)} waiting / with one waiting = "
        f"{statistics.median(firsts) / alone_median:.2f} to the first Ping, "
        f"{median / alone_median:.2f} to the last"
    )
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def wakes(
    args, phones: list[Phone], boxes: list[tuple[str, str]], mx_port: int, quiet=False
) -> list[tuple[float, float]]:
    """--wakes messages through the MX, each to one mailbox: seconds from sending to the first
    and to the last of its Pings answering Status 2, checking that no other Ping answered."""
    latencies = []
    for n in range(args.wakes):
        address = boxes[(n * 37) % len(boxes)][0]
        for p in phones:
            p.answered.clear()
            p.changes.clear()
        mine = [p for p in phones if p.login == address]
        sent = time.perf_counter()
        refused = await asyncio.to_thread(_send, mx_port, address, message(address, n))
        assert not refused, refused
        await asyncio.wait_for(asyncio.gather(*(p.answered.wait() for p in mine)), timeout=10)
        latency = max(p.changes[0] for p in mine) - sent
        first = min(p.changes[0] for p in mine) - sent
        await asyncio.sleep(1.0)
        others = [p for p in phones if p.login != address and p.changes]
        assert not others, f"{len(others)} Pings of other mailboxes answered"
        latencies.append((first, latency))
        if not quiet:
            print(
                f"wake {n}: the {len(mine)} Pings of {address} answered Status 2 after "
                f"{latency * 1000:.0f} ms (MX DATA sent to the last answer; the first after "
                f"{first * 1000:.0f} ms); no other Ping answered"
            )
    return latencies


def _send(mx_port: int, address: str, data: bytes) -> dict:
    with smtplib.SMTP("127.0.0.1", mx_port, timeout=30) as client:
        return client.sendmail("bench@far.example", [address], data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=100)
    parser.add_argument("--devices", type=int, default=10, help="phones per mailbox")
    parser.add_argument("--wakes", type=int, default=5)
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1)  # kill -USR1: where it is stuck
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this client holds a socket per phone
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 2**20, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a killed bench still cleans up
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from accounts.services import app_password_create
    from mailstore import dovecot
    from mailstore.tls import server_context
    from mta.lmtp import LMTPEndpoint
    from mta.server import SMTPService
    from tests.factories import DomainFactory, MailboxFactory
    from tests.protocol.mailplane import free_ports, scratch_config

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    root = Path(tempfile.mkdtemp(prefix="mseas-", dir="/tmp"))
    root.chmod(0o755)
    config = service = uvicorn = None
    try:
        domain = DomainFactory()
        mailboxes = [MailboxFactory(domain=domain) for _ in range(args.mailboxes + 1)]  # + the baseline's
        boxes = [(m.address, app_password_create(user=m.user, name="bench")[1]) for m in mailboxes]
        args.mailbox_ids = [m.pk for m in mailboxes]
        config = scratch_config(root, rspamd_controller_url="")
        dovecot.start(config)
        settings.MAIL_PORTS.update(config.ports)
        settings.RSPAMD_FILTERING = False
        service = SMTPService(
            host="127.0.0.1",
            ports={"smtp_mx": 0},
            tls_context=server_context(config.cert_file, config.key_file),
            lmtp=LMTPEndpoint("127.0.0.1", config.ports["lmtp"]),
            hostname="mx.bench.localhost",
            max_workers=4,
        ).start()
        db = connection.settings_dict
        port = free_ports(1)[0]
        env = os.environ | {
            "MAILSUITE_DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}",
            "MAILSUITE_ACTIVESYNC_ALLOW_PLAIN_HTTP": "1",
            "MAILSUITE_ACTIVESYNC_HEARTBEAT_MAX": str(HEARTBEAT),
            "MAILSUITE_LOG_LEVEL": "WARNING",
            **{f"MAILSUITE_PORT_{name.upper()}": str(p) for name, p in config.ports.items()},
        }
        uvicorn = subprocess.Popen(  # noqa: S603
            [
                str(ROOT / ".venv/bin/uvicorn"),
                "mailsuite.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-proxy-headers",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            preexec_fn=systemd_default_limit,  # noqa: PLW1509 - setrlimit only, before exec
        )
        for _ in range(200):
            try:
                with smtplib.socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        asyncio.run(run(args, port, uvicorn.pid, boxes, service.ports["smtp_mx"]))
    finally:
        if uvicorn is not None:
            uvicorn.terminate()
            uvicorn.wait(30)
        if service is not None:
            service.stop()
        if config is not None:
            dovecot.stop(config)
        shutil.rmtree(root, ignore_errors=True)
        connection.creation.destroy_test_db(old_name, verbosity=0)


# Sync of a big folder (issue 16, item 3) ----------------------------------------------------
#
#     .venv/bin/python bench/activesync.py --sync-only [--messages 10000] [--windows 100,512]
#                                          [--profile 512]
#
# A scratch database of its own (bench_mailsuite_eas_sync) and Dovecot DB role
# (bench_eas_sync_dovecot), a private Dovecot, one mailbox whose INBOX gets --messages realistic
# messages (MULTIAPPEND). Times, alternating, in the same run:
#   (a) a bare imaplib `UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)`
#       of the folder (the envelopes a Sync sends), and the same with BODY.PEEK[] (the whole
#       messages, which is what a Sync reads to make each body), and with BODY.PEEK[1]<0.32768>
#       (each message's first part, truncated as the phone asks: the least a Sync that sends
#       bodies must read); and the envelopes parsed by imapclient's parser, as mailstore's
#       IMAP library hands them to any code that uses them;
#   (b) a phone's full initial Sync of the folder through the endpoint (Django's request
#       handler, in this process, with an app password: no Argon2 in the way), key 0 then
#       pages of WindowSize until no MoreAvailable, for each --windows;
#   (c) the incremental Sync after one new message.
# Prints each figure and the ratio of (b) to (a) (target: <= 2x the envelopes).
# --profile W: cProfile of one full Sync with WindowSize W instead (top 30 by cumulative time).


def sync_message(i: int) -> bytes:
    """A realistic message: plain text, every third one text and HTML, every tenth with a PDF."""
    day, hour = 1 + i % 28, i % 24
    head = (
        f"From: Sender {i % 97} <sender{i % 97}@example.test>\r\nTo: Bench User <bench@bench.test>\r\n"
        + (f"Cc: Other {i % 7} <other{i % 7}@example.test>\r\n" if i % 4 == 0 else "")
        + f"Subject: Message number {i} about topic {i % 13}\r\n"
        f"Date: {day:02d} Feb 2026 {hour:02d}:{i % 60:02d}:00 +0100\r\n"
        f"Message-ID: <sync-bench-{i}@example.test>\r\nMIME-Version: 1.0\r\n"
    )
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * (4 + i % 30)
    if i % 10 == 0:
        pdf = base64.encodebytes(b"%PDF-1.4 " + bytes(range(256)) * (8 + i % 16)).decode()
        body = (
            'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n--mix\r\n'
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--mix\r\n"
            'Content-Type: application/pdf; name="report.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
            f'Content-Disposition: attachment; filename="report.pdf"\r\n\r\n{pdf}\r\n--mix--\r\n'
        )
    elif i % 3 == 0:
        body = (
            'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n--alt\r\n'
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--alt\r\n"
            f"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{text}</p>"
            f"<p><b>Topic {i % 13}</b> <a href='https://example.test/{i}'>link</a></p></body></html>"
            "\r\n--alt--\r\n"
        )
    else:
        body = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    return (head + body).encode()


class InProcessPhone:
    """A phone talking to the endpoint through Django's request handler in this process."""

    def __init__(self, login: str, password: str, device_id: str):
        from django.test import Client

        self.client, self.login, self.device_id = Client(), login, device_id
        self.auth = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
        self.policy_key = ""
        self.decoding = 0.0  # seconds the phone spent reading answers (its CPU, not the server's)

    def post(self, command: str, document: Element | None) -> Element | None:
        from activesync.wbxml import decode, encode

        query = urlencode(
            {"Cmd": command, "User": self.login, "DeviceId": self.device_id, "DeviceType": "iPhone"}
        )
        headers = {"HTTP_AUTHORIZATION": self.auth, "HTTP_MS_ASPROTOCOLVERSION": "14.1"}
        if self.policy_key:
            headers["HTTP_X_MS_POLICYKEY"] = self.policy_key
        answer = self.client.post(
            f"{PATH}?{query}",
            data=encode(document) if document is not None else b"",
            content_type="application/vnd.ms-sync.wbxml",
            secure=True,
            **headers,
        )
        if answer.status_code != 200:
            raise RuntimeError(f"{command}: HTTP {answer.status_code}")
        start = time.perf_counter()
        try:
            return decode(answer.content) if answer.content else None
        finally:
            self.decoding += time.perf_counter() - start

    def prepare(self) -> str:
        """Provision and FolderSync; the INBOX's CollectionId."""
        P, F = "{Provision}", "{FolderHierarchy}"  # noqa: N806
        kind = E(f"{P}PolicyType", "MS-EAS-Provisioning-WBXML")
        first = self.post(
            "Provision", E(f"{P}Provision", None, E(f"{P}Policies", None, E(f"{P}Policy", None, kind)))
        )
        temporary = first.findtext(f"{P}Policies/{P}Policy/{P}PolicyKey")
        ack = E(
            f"{P}Policy",
            None,
            E(f"{P}PolicyType", "MS-EAS-Provisioning-WBXML"),
            E(f"{P}PolicyKey", temporary),
            E(f"{P}Status", 1),
        )
        second = self.post("Provision", E(f"{P}Provision", None, E(f"{P}Policies", None, ack)))
        self.policy_key = second.findtext(f"{P}Policies/{P}Policy/{P}PolicyKey")
        folders = self.post("FolderSync", E(f"{F}FolderSync", None, E(f"{F}SyncKey", 0)))
        return next(
            add.findtext(f"{F}ServerId") for add in folders.iter(f"{F}Add") if add.findtext(f"{F}Type") == "2"
        )

    def sync(self, inbox: str, key: str, window: int) -> tuple[str, int, bool]:
        """One Sync: (the new key, how many Adds, MoreAvailable). A phone's options: the HTML body
        truncated to 32 KiB (iOS asks for HTML; Android clients similar sizes)."""
        A, B = "{AirSync}", "{AirSyncBase}"  # noqa: N806
        children = [E(f"{A}SyncKey", key), E(f"{A}CollectionId", inbox)]
        if key != "0":
            preference = E(f"{B}BodyPreference", None, E(f"{B}Type", 2), E(f"{B}TruncationSize", 32768))
            children += [E(f"{A}GetChanges"), E(f"{A}WindowSize", window), E(f"{A}Options", None, preference)]
        answer = self.post(
            "Sync", E(f"{A}Sync", None, E(f"{A}Collections", None, E(f"{A}Collection", None, *children)))
        )
        collection = answer.find(f"{A}Collections/{A}Collection")
        if collection.findtext(f"{A}Status") != "1":
            raise RuntimeError(f"Sync: Status {collection.findtext(f'{A}Status')}")
        adds = len(collection.findall(f"{A}Commands/{A}Add"))
        return collection.findtext(f"{A}SyncKey"), adds, collection.find(f"{A}MoreAvailable") is not None

    def full_sync(self, inbox: str, window: int) -> tuple[int, int]:
        """Key 0 and every page: (messages received, pages)."""
        key, _adds, _more = self.sync(inbox, "0", window)
        received = pages = 0
        more = True
        while more:
            key, adds, more = self.sync(inbox, key, window)
            received, pages = received + adds, pages + 1
        self.key = key
        return received, pages


def _bare_fetch(address: str, items: str) -> tuple[float, int]:
    """A bare imaplib session (logged in beforehand): SELECT and UID FETCH 1:* of `items`;
    (seconds, responses)."""
    import re  # here, not at the top: the Ping bench's part of the file stays as it was

    from mailstore.imap import imap_session

    with imap_session(address) as client:
        imap = client._imap  # the imaplib connection under it: no imapclient parsing
        start = time.perf_counter()
        imap.select("INBOX", readonly=True)
        typ, data = imap.uid("FETCH", "1:*", f"({items})")
        seconds = time.perf_counter() - start
    assert typ == "OK"
    heads = [d[0] if isinstance(d, tuple) else d for d in data]
    return seconds, sum(1 for head in heads if isinstance(head, bytes) and re.match(rb"\d+ \(", head))


def _parsed_fetch(address: str, items: str) -> tuple[float, int]:
    """The same fetch as _bare_fetch, and its answer parsed into Python values by imapclient's
    parser (the IMAP library mailstore uses): what a client pays to hold the envelopes, not only
    to receive their bytes. (seconds, messages)."""
    from imapclient.response_parser import parse_fetch_response

    from mailstore.imap import imap_session

    with imap_session(address) as client:
        imap = client._imap
        start = time.perf_counter()
        imap.select("INBOX", readonly=True)
        typ, data = imap.uid("FETCH", "1:*", f"({items})")
        parsed = parse_fetch_response(data, client.normalise_times, True)
        seconds = time.perf_counter() - start
    assert typ == "OK"
    return seconds, len(parsed)


def sync_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sync-only", action="store_true", help="the Sync bench (this one)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--windows", default="100,512", help="WindowSizes of the full Syncs")
    parser.add_argument("--runs", type=int, default=2, help="measured rounds")
    parser.add_argument("--profile", type=int, default=0, help="cProfile one full Sync of this WindowSize")
    args = parser.parse_args()
    os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_SYNC_DATABASE", "bench_mailsuite_eas_sync")
    os.environ["MAILSUITE_DOVECOT_DB_USER"] = os.environ.get(
        "BENCH_SYNC_DOVECOT_DB_USER", "bench_eas_sync_dovecot"
    )
    os.environ.setdefault("MAILSUITE_LOG_LEVEL", "WARNING")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from accounts.services import app_password_create
    from mailstore import dovecot
    from mailstore.imap import LiveMailbox, imap_session
    from tests.factories import DomainFactory, MailboxFactory
    from tests.protocol.mailplane import scratch_config

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    root = Path(tempfile.mkdtemp(prefix="mseassync-", dir="/tmp"))
    root.chmod(0o755)
    config = None
    try:
        mailbox = MailboxFactory(domain=DomainFactory(name="bench.test"), local_part="bench")
        password = app_password_create(user=mailbox.user, name="bench")[1]
        config = scratch_config(root, rspamd_controller_url="")
        dovecot.start(config)
        settings.MAIL_PORTS.update(config.ports)
        t0 = time.perf_counter()
        loader = LiveMailbox(mailbox.address).open()
        for first in range(0, args.messages, 500):
            loader.multiappend(
                "INBOX", [sync_message(i) for i in range(first, min(args.messages, first + 500))]
            )
        loader.logout()
        print(f"INBOX filled with {args.messages} messages in {time.perf_counter() - t0:.1f} s")
        envelopes = "UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE"
        whole = envelopes + " BODY.PEEK[]"
        first_text = envelopes + " BODY.PEEK[1]<0.32768>"
        _bare_fetch(mailbox.address, whole)  # Dovecot's cache and the page cache warm for both
        windows = [int(w) for w in args.windows.split(",")]
        if args.profile:
            import cProfile
            import pstats

            phone = InProcessPhone(mailbox.address, password, "BENCHPROFILE")
            inbox = phone.prepare()
            profiler = cProfile.Profile()
            profiler.enable()
            phone.full_sync(inbox, args.profile)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(
                int(os.environ.get("BENCH_PROFILE_LINES", "30"))
            )
            return
        bare: dict[str, list[float]] = {"envelopes": [], "whole": [], "text": [], "parsed": []}
        full: dict[int, list[float]] = {w: [] for w in windows}
        server: dict[int, list[float]] = {w: [] for w in windows}  # less the phone's decoding
        incremental: list[float] = []
        for run in range(args.runs):
            for name, items in (("envelopes", envelopes), ("whole", whole), ("text", first_text)):
                seconds, responses = _bare_fetch(mailbox.address, items)
                assert responses >= args.messages, responses
                bare[name].append(seconds)
            seconds, parsed = _parsed_fetch(mailbox.address, envelopes)
            assert parsed >= args.messages, parsed
            bare["parsed"].append(seconds)
            for window in windows:
                phone = InProcessPhone(mailbox.address, password, f"BENCH{run}W{window}")
                inbox = phone.prepare()
                phone.decoding = 0.0
                start = time.perf_counter()
                received, pages = phone.full_sync(inbox, window)
                full[window].append(time.perf_counter() - start)
                server[window].append(full[window][-1] - phone.decoding)
                assert received == args.messages + run, (received, args.messages)
                print(
                    f"run {run}: initial Sync, WindowSize {window}: {received} messages in {pages} pages, "
                    f"{full[window][-1]:.2f} s ({server[window][-1]:.2f} s less the phone's WBXML decoding)"
                )
            # one new message: the last phone's incremental Sync gets it alone
            with imap_session(mailbox.address) as imap:
                imap.append("INBOX", sync_message(args.messages + run))
            start = time.perf_counter()
            phone.key, adds, more = phone.sync(inbox, phone.key, windows[-1])
            incremental.append(time.perf_counter() - start)
            assert (adds, more) == (1, False), (adds, more)
        best = {name: min(values) for name, values in bare.items()}
        print(
            f"bare imaplib UID FETCH 1:* of {args.messages}: envelopes {best['envelopes']:.2f} s, "
            f"with whole messages {best['whole']:.2f} s; with the first part of each, truncated to "
            f"32 KiB, {best['text']:.2f} s = {best['text'] / best['envelopes']:.2f}x the envelopes alone; "
            f"the envelopes parsed by imapclient's parser {best['parsed']:.2f} s (best of {args.runs})"
        )
        for window in windows:
            seconds, serving = min(full[window]), min(server[window])
            print(
                f"initial Sync WindowSize {window}: {seconds:.2f} s (best of {args.runs}) = "
                f"{seconds / best['envelopes']:.2f}x the envelopes (target <= 2x), "
                f"{seconds / best['whole']:.2f}x the whole messages; "
                f"{args.messages / seconds:.0f} messages/s; less the phone's decoding {serving:.2f} s = "
                f"{serving / best['envelopes']:.2f}x the envelopes; against the envelopes parsed: "
                f"{seconds / best['parsed']:.2f}x ({serving / best['parsed']:.2f}x less the phone's decoding)"
            )
        print(
            f"incremental Sync after one new message: {min(incremental) * 1000:.1f} ms "
            f"(of {', '.join(f'{s * 1000:.1f}' for s in incremental)} ms)"
        )
    finally:
        if config is not None:
            dovecot.stop(config)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if "--sync-only" in sys.argv:
        sync_main()
    else:
        main()
