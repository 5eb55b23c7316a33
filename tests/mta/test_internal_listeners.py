"""Internal listeners stay internal; unexpected errors stay private (issue 9, item 10)."""

import logging
import smtplib
import socket

import pytest

from mailstore.dovecot_config import _main_conf, config_from_settings
from mailstore.tls import ensure_certificate, server_context
from mta import handler as handler_module
from mta.server import SMTPService

pytestmark = pytest.mark.protocol


def test_lmtp_listens_on_the_internal_address_not_the_public_one(settings, tmp_path):
    settings.MAIL_BIND = "192.0.2.10"
    settings.INTERNAL_BIND = "127.0.0.1"
    rendered = _main_conf(config_from_settings(directory=tmp_path), 0, 0)  # the dovecot.conf text
    lmtp = rendered[rendered.index("service lmtp {") :]
    lmtp = lmtp[: lmtp.index("\n}\n")]
    assert "address = 127.0.0.1\n" in lmtp
    assert "192.0.2.10" not in lmtp
    # the public listeners keep the public address
    imap = rendered[rendered.index("service imap-login {") :]
    assert "address = 192.0.2.10\n" in imap[: imap.index("\n}\n")]


def test_the_sieve_relay_listens_on_the_internal_address_not_the_public_one(settings, tmp_path):
    # given a public address distinct from loopback (any other 127/8 address is local on Linux)
    settings.MAIL_BIND = "127.0.0.2"
    settings.INTERNAL_BIND = "127.0.0.1"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, hostname="localhost")
    service = SMTPService(
        ports={"smtp_mx": 0, "relay": 0}, tls_context=server_context(cert, key), max_workers=2
    )
    service.start()
    try:
        assert service.addresses == {"smtp_mx": "127.0.0.2", "relay": "127.0.0.1"}
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.2", service.ports["relay"]), timeout=5).close()
    finally:
        service.stop()


def test_sieve_hands_its_mail_to_the_internal_address_by_default(settings):
    assert settings.DOVECOT_SUBMISSION_HOST.startswith(settings.INTERNAL_BIND + ":")


def test_an_unexpected_handler_error_answers_a_generic_451(smtpd, transactional_db, monkeypatch, caplog):
    # given a handler hook that fails with a revealing message
    def boom(self, *args, **kwargs):
        raise RuntimeError("secret detail /srv/mailsuite/settings.py password=hunter2")

    monkeypatch.setattr(handler_module.MailHandler, "_check_recipient", boom)
    caplog.set_level(logging.ERROR, logger="mta.handler")
    with smtplib.SMTP(smtpd.host, smtpd.ports["smtp_mx"], timeout=10) as client:
        client.ehlo()
        assert client.mail("a@far.example")[0] == 250
        code, reply = client.rcpt("b@acme.test")
    assert (code, reply) == (451, b"4.3.0 Temporary server error, please try again later")
    assert "hunter2" in caplog.text  # the traceback goes to the log
