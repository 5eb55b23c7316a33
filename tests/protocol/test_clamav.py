"""ClamAV (issue 14 item 5) against the real MX, a real clamd and rspamd, and Dovecot.

Signatures cannot be downloaded here, so the module writes its own database: one MD5 signature
(.hdb) of a harmless test string. clamd (its own, on a free loopback port) and a second rspamd
with ClamAV on (the session's runs with it off; the Hyperscan cache is shared, so it starts in
seconds) live for this module only."""

import hashlib
import shutil
import tempfile
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from mta.clamav import ClamavError, ClamdConfig, ClamdProcess
from mta.models import TracemailEntry
from mta.rspamd import RspamdConfig, RspamdError, RspamdProcess
from tests.protocol.filterplane import HS_CACHE_DIR, REDIS_URL
from tests.protocol.mailplane import free_ports
from tests.protocol.test_filtering import folder, sender_domain

pytestmark = pytest.mark.usefixtures("smtp_isolation")

# Harmless bytes the module's signature database calls a virus.
TEST_VIRUS = b"mailsuite harmless ClamAV test signature, not a virus\n"
SIGNATURE = "Mailsuite.Test.Signature"


@pytest.fixture(scope="module")
def clamd():
    root = Path(tempfile.mkdtemp(prefix="msclamd-", dir="/tmp"))
    root.chmod(0o755)
    db = root / "db"
    db.mkdir(mode=0o755)
    (db / "mailsuite-test.hdb").write_text(
        f"{hashlib.md5(TEST_VIRUS).hexdigest()}:{len(TEST_VIRUS)}:{SIGNATURE}\n"  # noqa: S324
    )
    (port,) = free_ports(1)
    process = ClamdProcess(ClamdConfig(directory=root / "run", socket=f"127.0.0.1:{port}", database_dir=db))
    try:
        process.start()
    except ClamavError as exc:
        pytest.fail(f"clamd did not start: {exc}", pytrace=False)
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def rspamd_clamav_server(clamd, _dns_server_process):
    root = Path(tempfile.mkdtemp(prefix="msrspamd-clamav-", dir="/tmp"))
    root.chmod(0o755)
    normal, controller = free_ports(2)
    process = RspamdProcess(
        RspamdConfig(
            directory=root,
            bind="127.0.0.1",
            normal_port=normal,
            controller_port=controller,
            redis_url=REDIS_URL,
            dns_resolver=f"{_dns_server_process.host}:{_dns_server_process.port}",
            network_checks=False,
            hs_cache_dir=HS_CACHE_DIR,
            normal_workers=1,
            clamav_socket=clamd.config.socket,
        )
    )
    try:
        process.start(timeout=180)
    except RspamdError as exc:
        pytest.fail(f"rspamd did not start: {exc}", pytrace=False)
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def scanned(rspamd_clamav_server, clamd, dns_server, smtpd, running_mailplane, transactional_db, settings):
    """The MX filtering through the ClamAV rspamd; clamd running."""
    settings.RSPAMD_FILTERING = True
    settings.RSPAMD_FAIL_OPEN = False
    settings.RSPAMD_URL = rspamd_clamav_server.config.normal_url
    settings.RSPAMD_CONTROLLER_URL = rspamd_clamav_server.config.controller_url
    if not clamd.is_running():
        clamd.start()
    return dns_server


def with_attachment(sender: str, to: str, subject: str, payload: bytes) -> bytes:
    # Each message unique: rspamd caches scan results by content in Redis.
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@{sender.split('@')[1]}>"
    msg["Date"] = "Tue, 01 Dec 2026 10:00:00 +0100"
    msg.set_content(f"The file you asked for is attached ({uuid.uuid4().hex}).\n")
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="report.bin")
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(smtpd, sender: str, rcpt: str, data: bytes) -> tuple[int, bytes]:
    with smtpd.mx() as client:
        client.ehlo("client.far.example")
        client.mail(sender)
        assert client.rcpt(rcpt)[0] == 250
        return client.data(data)


def test_attachment_with_the_test_signature_is_refused_and_a_clean_one_delivered(
    scanned, smtpd, running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()
    sender = f"a@{sender_domain(scanned, spf='v=spf1 ip4:127.0.0.1 -all')}"

    code, text = send(smtpd, sender, address, with_attachment(sender, address, "infected", TEST_VIRUS))
    assert (code, text) == (554, b"5.7.1 Message rejected: it contains a virus")

    clean = TEST_VIRUS.replace(b"signature", b"greetings")
    assert send(smtpd, sender, address, with_attachment(sender, address, "clean", clean))[0] == 250
    assert [m["Subject"] for m in folder(running_mailplane, address, password)] == ["clean"]


def test_clamd_down_answers_4xx_and_the_retry_is_scanned_and_delivered(
    scanned, clamd, smtpd, running_mailplane, mailbox_factory
):
    address, password = mailbox_factory()
    sender = f"b@{sender_domain(scanned, spf='v=spf1 ip4:127.0.0.1 -all')}"
    data = with_attachment(sender, address, "scanned later", b"an ordinary attachment\n")
    clamd.stop()

    # rspamd answers, but could not scan: never delivered unscanned (MAILSUITE_RSPAMD_FAIL_OPEN
    # is about rspamd itself being down)
    code, text = send(smtpd, sender, address, data)
    assert (code, text) == (451, b"4.3.0 Virus scanner unavailable, please try again later")
    assert folder(running_mailplane, address, password) == []
    assert TracemailEntry.objects.get(recipient=address).status == "deferred"

    # the sender's retry once clamd is back
    clamd.start()
    assert send(smtpd, sender, address, data)[0] == 250
    assert [m["Subject"] for m in folder(running_mailplane, address, password)] == ["scanned later"]
