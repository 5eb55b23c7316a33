"""Archive benchmark: MX ingest with every recipient archived vs none, and bytes on disk vs raw
bytes on a corpus with duplication.

    .venv/bin/python bench/archive.py [--messages 2000] [--size 10240] [--clients 4] [--corpus 300]

Creates a scratch database (migrated, destroyed at the end), a private Dovecot and the project's
SMTP server (as bench/smtp_ingest.py), a blob store in a temporary directory. Then, in one run:
  1. MX ingest, `clients` parallel SMTP sessions, one recipient per message, in four rounds
     alternating mailboxes without an archive and mailboxes with one (so warm-up and disk
     state favour neither); prints msg/s of each and the ratio archived/none (target >= 0.8);
  2. a corpus with realistic duplication sent through the MX into archived mailboxes: each
     message to 1-4 recipients (a third of them with one of a few attachments that recur across
     messages, as a shared PDF does), some messages sent again (a retry, archived once); prints
     the raw bytes of every archived copy, the bytes of the blob files, and the ratio (target <= 0.5).
  3. search p95 over --search-messages archived messages (default 1,000,000), in a database built
     by a bulk loader and kept between runs: bench/archive_search.py.
Every message is checked to have arrived (doveadm) and to be in the archive (entries).
"""

import argparse
import multiprocessing
import os
import random
import shutil
import smtplib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailsuite.settings")
os.environ.setdefault("MAILSUITE_CELERY_EAGER", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from mailstore import dovecot  # noqa: E402
from mailstore.tls import server_context  # noqa: E402
from mta.lmtp import LMTPEndpoint  # noqa: E402
from mta.server import SMTPService  # noqa: E402

PASSWORD = "Bench-Mailbox-Pass-2026"  # noqa: S105
WORDS = (
    "fattura contratto consegna ordine riunione progetto cliente offerta preventivo pagamento "
    "invoice contract delivery order meeting project customer offer quote payment the and of to"
).split()


def make_message(n: int, size: int, tag: str) -> bytes:
    header = (
        f"From: bench@far.example\r\nTo: bench@bench.test\r\nSubject: {tag} {n}\r\n"
        f"Message-ID: <{tag}-{n}-{time.time_ns()}@far.example>\r\n\r\n"
    ).encode()
    rng = random.Random(n)  # noqa: S311
    body = []
    length = len(header)
    while length < size:
        line = " ".join(rng.choice(WORDS) for _ in range(11)) + "\r\n"
        body.append(line)
        length += len(line)
    return header + "".join(body).encode()


def mx_client(port: int, boxes: list[str], indices: list[int], size: int, tag: str) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
        c.ehlo("far.example")
        for i in indices:
            c.sendmail("bench@far.example", [boxes[i % len(boxes)]], make_message(i, size, tag))
    return len(indices)


def run_parallel(
    pool, port: int, boxes: list[str], start: int, total: int, clients: int, size: int, tag: str
):
    jobs = [(port, boxes, list(range(start + i, start + total, clients)), size, tag) for i in range(clients)]
    began = time.perf_counter()
    sent = sum(pool.starmap(mx_client, jobs))
    elapsed = time.perf_counter() - began
    assert sent == total
    return elapsed


def attachment(k: int) -> str:
    rng = random.Random(1000 + k)  # noqa: S311
    import base64

    data = base64.encodebytes(bytes(rng.getrandbits(8) for _ in range(30_000))).decode()
    return data.replace("\n", "\r\n")


def corpus_message(n: int, rng: random.Random, recipients: list[str]) -> bytes:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(80, 600)))
    head = (
        f"From: partner{n % 7}@far.example\r\nTo: {', '.join(recipients)}\r\nSubject: corpus {n}\r\n"
        f"Message-ID: <corpus-{n}@far.example>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if n % 3:
        return (head + f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").encode()
    k = rng.randrange(4)
    return (
        head + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
        f"{text}\r\n--b\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="listino-{k}.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{attachment(k)}--b--\r\n"
    ).encode()


def count_inbox(config, address: str) -> int:
    out = dovecot.doveadm("mailbox", "status", "-u", address, "messages", "INBOX", config=config)
    return int(out.strip().split("=")[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--corpus", type=int, default=300)
    parser.add_argument("--search-messages", type=int, default=1_000_000, help="0: no search figures")
    parser.add_argument("--search-runs", type=int, default=40)
    parser.add_argument("--search-rebuild", action="store_true")
    args = parser.parse_args()
    pool = multiprocessing.get_context("fork").Pool(args.clients)

    settings.DATABASES["default"]["TEST"]["NAME"] = f"bench_archive_{os.getpid()}"
    settings.DEBUG = False
    settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_COST, settings.ARGON2_PARALLELISM = 1, 8192, 1
    root = Path(tempfile.mkdtemp(prefix="bench-archive-", dir="/tmp"))
    root.chmod(0o755)
    settings.SPOOL_DIR = root / "spool"
    settings.ARCHIVE_BLOB_DIR = root / "archive"
    # Archive ingest, not filtering: the MX asks no rspamd here (bench/smtp_ingest.py measures it).
    settings.RSPAMD_FILTERING = False
    print(f"scratch database {settings.DATABASES['default']['TEST']['NAME']}, dir {root}")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    config = service = None
    ok = True
    try:
        from archiving.blobstore import blob_store
        from archiving.models import ArchiveBlob, ArchivedMessage
        from archiving.services import archive_attach
        from domains import services as domain_services
        from tests.factories import CustomerFactory

        domain = domain_services.domain_register(customer=CustomerFactory(), name="bench.test")
        plain = [f"plain{i}@bench.test" for i in range(args.clients)]
        archived = [f"arch{i}@bench.test" for i in range(args.clients)]
        for address in plain + archived:
            mailbox = domain_services.mailbox_create(
                domain=domain, local_part=address.split("@")[0], password=PASSWORD
            )
            if address in archived:
                archive_attach(mailbox=mailbox, retention_years=10)

        from tests.protocol.mailplane import scratch_config

        config = scratch_config(root)
        dovecot.start(config)
        service = SMTPService(
            host="127.0.0.1",
            ports={"smtp_mx": 0},
            tls_context=server_context(config.cert_file, config.key_file),
            lmtp=LMTPEndpoint("127.0.0.1", config.ports["lmtp"]),
            hostname="mx.bench.localhost",
            max_workers=8,
        ).start()
        port = service.ports["smtp_mx"]
        n, size, clients = args.messages, args.size, args.clients
        for boxes in (plain, archived):  # warm-up, not counted
            with smtplib.SMTP("127.0.0.1", port) as c:
                c.sendmail("bench@far.example", [boxes[0]], make_message(-1, size, "warm"))

        half = n // 2
        times = {"none": 0.0, "archived": 0.0}
        rounds = [
            ("none", plain, 0),
            ("archived", archived, 0),
            ("archived", archived, half),
            ("none", plain, half),
        ]
        for kind, boxes, start in rounds:
            times[kind] += run_parallel(pool, port, boxes, start, half, clients, size, kind)
        total = 2 * half
        plain_count = sum(count_inbox(config, a) for a in plain) - 1
        arch_count = sum(count_inbox(config, a) for a in archived) - 1
        entries = ArchivedMessage.objects.count() - 1
        none_rate, arch_rate = total / times["none"], total / times["archived"]
        ingest_ratio = arch_rate / none_rate
        print(f"ingest: {total} messages x {size} bytes per kind, {clients} parallel clients")
        print(
            f"  none archived : {times['none']:7.2f} s  {none_rate:8.1f} msg/s  arrived {plain_count}/{total}"
        )
        print(
            f"  all archived  : {times['archived']:7.2f} s  {arch_rate:8.1f} msg/s"
            f"  arrived {arch_count}/{total}"
            f"  archived {entries}/{total}"
        )
        print(f"  ratio archived/none: {ingest_ratio:.2f} (target >= 0.8)")
        ok &= plain_count == total and arch_count == total and entries == total and ingest_ratio >= 0.8

        # The duplication corpus, in archives of its own (fresh mailboxes).
        corpus_boxes = []
        for i in range(8):
            mailbox = domain_services.mailbox_create(
                domain=domain, local_part=f"corpus{i}", password=PASSWORD
            )
            archive_attach(mailbox=mailbox, retention_years=10)
            corpus_boxes.append(mailbox)
        before_entries = set(ArchivedMessage.objects.values_list("pk", flat=True))
        before_blobs = set(ArchiveBlob.objects.values_list("sha256", flat=True))
        rng = random.Random(42)  # noqa: S311
        sent_copies = 0
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
            for m in range(args.corpus):
                rcpts = [b.address for b in rng.sample(corpus_boxes, rng.randint(1, 4))]
                data = corpus_message(m, rng, rcpts)
                for _ in range(2 if m % 10 == 0 else 1):  # every tenth message retried
                    c.sendmail(f"partner{m % 7}@far.example", rcpts, data)
                sent_copies += len(rcpts)
        from archiving.outbox import archive_outbox_drain

        drained = archive_outbox_drain(max_batches=10_000)  # beat does this every minute
        print(f"outbox drained into the blob store: {drained} blobs")
        new_entries = ArchivedMessage.objects.exclude(pk__in=before_entries)
        raw = sum(new_entries.values_list("size", flat=True))
        blobs = ArchiveBlob.objects.exclude(sha256__in=before_blobs)
        store_root = Path(settings.ARCHIVE_BLOB_DIR)
        on_disk = sum(
            (store_root / blob_store().key_for(h)).stat().st_size
            for h in blobs.values_list("sha256", flat=True)
        )
        blocks = sum(
            (store_root / blob_store().key_for(h)).stat().st_blocks * 512
            for h in blobs.values_list("sha256", flat=True)
        )
        ratio = on_disk / raw
        print(
            f"corpus: {args.corpus} messages, {sent_copies} archived copies (1-4 recipients each, every "
            f"third with one of 4 recurring 30 KB attachments, every tenth retried)"
        )
        print(f"  entries {new_entries.count()}, blobs {blobs.count()}")
        print(f"  raw bytes of the archived copies: {raw:,}")
        print(f"  blob files: {on_disk:,} bytes ({blocks:,} bytes in file-system blocks)")
        print(f"  ratio on disk/raw: {ratio:.2f} (target <= 0.5)")
        ok &= new_entries.count() == sent_copies and ratio <= 0.5
    finally:
        if service is not None:
            service.stop()
        if config is not None:
            dovecot.stop(config)
        pool.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(root, ignore_errors=True)
    if args.search_messages:
        # In a database of its own, kept between runs (bench/archive_search.py).
        import archive_search

        ok &= archive_search.run(args.search_messages, args.search_runs, args.search_rebuild)
    print("RESULT:", "PASS" if ok else "FAIL")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
