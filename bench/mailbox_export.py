"""A 2 GB mailbox export through the web app: the worker's memory while it streams (issue 15).

Creates a scratch database (bench_mailsuite_export, dropped at the end) with a Dovecot role of
its own (MAILSUITE_DOVECOT_DB_USER=mailsuite_dovecot_bench_export, dropped at the end: the
cluster-wide role the tests use keeps its password), a private Dovecot on free ports in a
temporary directory, and one mailbox filled over IMAP (MULTIAPPEND) with --messages messages of
--message-mb MB each (a text part and a random attachment, base64: compresses like real
attachments, i.e. hardly) spread over five folders, one of them nested.
Then, for each worker kind (SERVERS: "sync" as docker-compose.yml runs it, "gthread"), it starts
the web app (gunicorn via bench/webmail_list.py: production settings, DEBUG off, behind a TLS
proxy on loopback) with ONE worker, logs in to
the webmail and downloads the export (GET /webmail/settings/export/mailbox.zip) to a file while
a thread samples the worker's resident memory (/proc/<pid>/status VmRSS) every 20 ms.
Prints bytes, time, MB/s, the worker's RSS before, its peak and the growth against the bound,
then checks the zip: one .mbox per folder, every message in it (zipfile CRC check, "From "
separators counted). Everything it wrote (mail, download) is deleted at the end.

    .venv/bin/python bench/mailbox_export.py [--messages 200] [--message-mb 10] [--bound-mb 64]
        [--server sync|gthread]... [--gunicorn-arg=--timeout=0]... [--quick-check]

Measured 2026-12-01 on the shared 2-core machine (load average 8-12, so times are pessimistic),
200 x 10 MB = 1.98 GB in five folders, a 1.51 GB zip:
                       downloaded     time      MB/s   RSS before  peak    growth (bound 64 MB)
  before 41b0ab8 gthread  1.51 GB    718.6 s    2.1     87.0 MB   205.3 MB  118.4 MB  1.85x OVER
  after  41b0ab8 gthread  1.51 GB    383.2 s    4.0     87.0 MB   136.6 MB   49.6 MB  0.77x OK
  sync (both)             0.08-0.09 GB, cut at 30 s: WORKER TIMEOUT (growth 99.8 -> 47.5 MB)
The sync worker of docker-compose.yml is killed by gunicorn's arbiter after its 30 s timeout in
the middle of any download longer than that: a large export needs a threaded worker (gthread)
or a longer --timeout in production. Throughput is bound by deflate level 6 in the worker.

The bound: the export holds one fetch batch (mailstore.reader.STREAM_BATCH_BYTES, or one larger
message alone) plus its mbox and deflate copies, whatever the mailbox's size; 64 MB leaves room
for a few copies of the largest message (10 MB here) and the allocator's slack.
"""

import argparse
import base64
import http.client
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webmail_list  # noqa: E402 - sets the bench environment defaults, then ours replace them

os.environ["MAILSUITE_TEST_DATABASE"] = os.environ.get("BENCH_DATABASE", "bench_mailsuite_export")
DOVECOT_ROLE = os.environ.setdefault("MAILSUITE_DOVECOT_DB_USER", "mailsuite_dovecot_bench_export")

import django  # noqa: E402

FOLDERS = {"INBOX": 0.4, "Sent": 0.2, "Archivio": 0.15, "Archivio/2025": 0.15, "Clienti": 0.1}
EXPORT_PATH = "/webmail/settings/export/mailbox.zip"
ADDRESS = "export@bench.test"
SEPARATOR = re.compile(rb"\nFrom MAILER-DAEMON ")


def message(i: int, folder: str, size: int) -> bytes:
    """A text part and a random attachment, base64 in CRLF lines (built by hand: the email
    package's generator re-wraps 10 MB of base64 in Python at a few MB/s)."""
    payload = base64.encodebytes(os.urandom(size * 3 // 4)).replace(b"\n", b"\r\n")  # `size` bytes
    boundary = f"bench-{i}-{uuid.uuid4().hex}"
    head = (
        f"From: Sender {i % 37} <sender{i % 37}@example.test>\r\nTo: {ADDRESS}\r\n"
        f"Subject: Bench export {i} in {folder}\r\n"
        f"Date: {1 + i % 28:02d} Mar 2026 09:{i % 60:02d}:00 +0100\r\n"
        f"Message-ID: <export-{i}@example.test>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        # a body line starting with "From ": the mbox writer must quote it (mboxrd)
        f"Message {i}.\r\nFrom here on, the attachment.\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="data-{i}.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    return head + payload + f"--{boundary}--\r\n".encode()


def fill(address: str, count: int, size: int) -> dict[str, int]:
    """`count` messages of about `size` bytes over FOLDERS; returns the count per folder."""
    from mailstore.imap import LiveMailbox

    client = LiveMailbox(address).open(timeout=300)
    per_folder: dict[str, int] = {}
    i = 0
    start = time.perf_counter()
    for n, (folder, share) in enumerate(FOLDERS.items()):
        if folder != "INBOX":
            client.create_folder(folder)
        wanted = count - i if n == len(FOLDERS) - 1 else round(count * share)
        per_folder[folder] = wanted
        for first in range(0, wanted, 4):  # 4 messages (40 MB) an APPEND
            batch = [message(i + k, folder, size) for k in range(min(4, wanted - first))]
            client.multiappend(folder, batch)
            i += len(batch)
    stored = {folder: client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"] for folder in FOLDERS}
    client.logout()
    assert stored == per_folder, (stored, per_folder)
    took = time.perf_counter() - start
    print(f"filled {i} messages of {size / 2**20:.1f} MB in {took:.1f} s: {per_folder}")
    return per_folder


def rss_kb(pid: int) -> int | None:
    """The process's resident memory in KB; None once it is gone (or a zombie, without VmRSS)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.samples, self.lost = pid, every, 0, 0, False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            rss = rss_kb(self.pid)
            if rss is None:
                self.lost = True  # the worker died (killed by the arbiter?)
                return
            self.peak = max(self.peak, rss)
            self.samples += 1
            time.sleep(self.every)


def download(port: int, cookies: dict[str, str], target: Path) -> tuple[int, float, bool]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request(
        "GET",
        EXPORT_PATH,
        headers={
            "Host": webmail_list.HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "192.0.2.10",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
    )
    start = time.perf_counter()
    response = conn.getresponse()
    assert response.status == 200, (response.status, response.read(500))
    assert response.getheader("Content-Type") == "application/zip", response.getheaders()
    total, complete = 0, True
    with target.open("wb") as out:
        try:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                total += len(chunk)
        except (http.client.IncompleteRead, ConnectionError) as exc:
            # a cut chunked body: the worker was killed mid-download
            total += len(getattr(exc, "partial", b""))
            complete = False
    elapsed = time.perf_counter() - start
    conn.close()
    return total, elapsed, complete


def check_zip(target: Path, per_folder: dict[str, int], full: bool) -> str:
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        # every folder filled here, and the special folders Dovecot created (empty)
        assert {f"{folder}.mbox" for folder in per_folder} <= set(names), names
        assert all(name.endswith(".mbox") for name in names), names
        if not full:
            return "central directory lists every folder"
        assert archive.testzip() is None  # every entry read and CRC-checked
        for folder, count in per_folder.items():
            separators = 0
            with archive.open(f"{folder}.mbox") as mbox:
                tail = b"\n"  # the first separator opens the file
                while block := mbox.read(8 << 20):
                    text = tail + block
                    cut = len(text) - 64  # a separator starting after the cut is counted next time
                    separators += sum(1 for m in SEPARATOR.finditer(text) if m.start() < cut)
                    tail = text[cut:]
                separators += len(SEPARATOR.findall(tail))
            assert separators == count, (folder, separators, count)
    return "every entry CRC-checked, every message in its folder's mbox"


def profile(address: str) -> None:
    """The export's generator in this process under cProfile (no web server, no HTTP)."""
    import cProfile
    import pstats

    from mailstore.imap import LiveMailbox
    from portalkit.exports import mailbox_zip_stream

    profiler = cProfile.Profile()
    start = time.perf_counter()
    total = profiler.runcall(lambda: sum(len(c) for c in mailbox_zip_stream(LiveMailbox(address))))
    elapsed = time.perf_counter() - start
    print(f"in process: {total:,} bytes in {elapsed:.1f} s = {total / 2**20 / elapsed:.1f} MB/s")
    pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(20)


# How the worker runs. "sync" is docker-compose.yml's command: sync workers, gunicorn's default
# 30 s timeout, which the arbiter enforces through a heartbeat a sync worker only beats between
# requests. "gthread": a threaded worker, whose main loop beats while a thread streams.
SERVERS = {
    "sync": (),
    "gthread": ("--worker-class", "gthread", "--threads", "4"),
}


def measure(args, name, settings, config, root, address, per_folder, on_disk) -> None:
    from tests.factories import MAILBOX_PASSWORD

    extra = SERVERS[name] + tuple(args.gunicorn_arg)
    server = webmail_list.gunicorn(
        settings,
        config,
        root,
        workers=1,
        args=extra,
        extra_env={"MAILSUITE_DOVECOT_DB_USER": DOVECOT_ROLE},  # its password: never set by the web app
    )
    with server as port:
        browser = webmail_list.Browser(port)
        try:
            webmail_list.login(browser, address, MAILBOX_PASSWORD)
        except Exception:
            print(server.log.read_text()[-3000:])
            raise
        status, _page = browser.request("GET", "/webmail/settings/export/")  # warm: the page's imports
        assert status == 200, status
        browser.conn.close()
        pid = worker_pid(server.process.pid)
        time.sleep(1)
        baseline = rss_kb(pid)
        sampler = Sampler(pid)
        sampler.start()
        target = root / "export.zip"
        try:
            total, elapsed, complete = download(port, browser.cookies, target)
        finally:
            sampler.done.set()
            sampler.join()
        after = rss_kb(pid) or 0
        print(f"\n[{name}] gunicorn {' '.join(extra) or '(docker-compose.yml options)'}, 1 worker, DEBUG off")
        print(f"mailbox: {args.messages} messages, {on_disk / 2**30:.2f} GB, {len(per_folder)} folders")
        rate = total / 2**20 / elapsed
        print(f"downloaded {total:,} bytes ({total / 2**30:.2f} GB) in {elapsed:.1f} s = {rate:.1f} MB/s")
        growth = (sampler.peak - baseline) / 1024
        print(
            f"worker RSS: before {baseline / 1024:.1f} MB, peak {sampler.peak / 1024:.1f} MB, "
            f"after {after / 1024:.1f} MB ({sampler.samples} samples every 20 ms)"
        )
        verdict = "OK" if growth <= args.bound_mb else "OVER"
        verdict = "INCOMPLETE" if not complete or sampler.lost else verdict
        print(
            f"growth {growth:.1f} MB against a bound of {args.bound_mb:.0f} MB: "
            f"{growth / args.bound_mb:.2f}x of the bound -> {verdict}"
        )
        if verdict == "INCOMPLETE":
            print(f"the download was cut after {elapsed:.1f} s: the worker did not survive. gunicorn.log:")
            lines = [line for line in server.log.read_text().splitlines() if line.startswith("[")]
            print("\n".join(lines[-8:]))
        else:
            start = time.perf_counter()
            checked = check_zip(target, per_folder, not args.quick_check)
            print(f"zip: {checked} ({time.perf_counter() - start:.1f} s)")
        target.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--message-mb", type=float, default=10)
    parser.add_argument("--bound-mb", type=float, default=64, help="allowed growth of the worker's RSS")
    parser.add_argument(
        "--server", action="append", choices=list(SERVERS), help="worker kind (default: each in turn)"
    )
    parser.add_argument(
        "--gunicorn-arg", action="append", default=[], help="e.g. --gunicorn-arg=--threads=4"
    )
    parser.add_argument("--quick-check", action="store_true", help="only the zip's central directory")
    args = parser.parse_args()

    django.setup()
    from django.conf import settings
    from django.db import connection

    from mailstore import dovecot

    assert settings.DOVECOT_DB_USER == DOVECOT_ROLE != "mailsuite_dovecot"
    settings.MAILSTORE_MASTER_PASSWORD = webmail_list.MASTER_PASSWORD
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    root = Path(tempfile.mkdtemp(prefix="exbench-", dir=os.environ.get("BENCH_TMP")))
    root.chmod(0o755)
    config = None
    try:
        from tests.factories import DomainFactory, MailboxFactory
        from tests.protocol.mailplane import scratch_config

        config = scratch_config(root)
        settings.MAIL_PORTS.update(config.ports)
        settings.MAIL_BIND = "127.0.0.1"
        dovecot.start(config)
        mailbox = MailboxFactory(domain=DomainFactory(name="bench.test"), local_part="export", quota_tier=100)
        size = int(args.message_mb * 2**20)
        per_folder = fill(mailbox.address, args.messages, size)
        on_disk = sum(f.stat().st_size for f in (root / "mail").rglob("*") if f.is_file())
        print(f"mail store on disk: {on_disk / 2**30:.2f} GB")
        if os.environ.get("BENCH_PROFILE"):
            profile(mailbox.address)
            return
        for name in args.server or list(SERVERS):
            measure(args, name, settings, config, root, mailbox.address, per_folder, on_disk)
    finally:
        if config is not None:
            dovecot.stop(config)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP ROLE IF EXISTS {connection.ops.quote_name(DOVECOT_ROLE)}")
        time.sleep(1)  # Dovecot's last mail processes (as vmail) may still be closing files
        shutil.rmtree(root, ignore_errors=True)
        if root.exists():
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
