"""ActiveSync tests: the session's Dovecot and SMTP server (tests/protocol/mailplane.py,
tests/mta/smtpd_plugin.py); SendMail submits to the test smtpd's submission listener."""

from __future__ import annotations

import pytest

from mailstore.pool import POOL


@pytest.fixture
def submission(mailplane, smtpd, settings, smtp_isolation):
    """The mailplane with the submission port and CA of the test smtpd (restored afterwards by
    the `settings` fixture: MAIL_PORTS is copied, not changed in place)."""
    settings.MAIL_PORTS = {**settings.MAIL_PORTS, "submission": smtpd.ports["submission"]}
    settings.WEBMAIL_SUBMISSION_CA = smtpd.cert_file
    mailplane.ensure_running()
    return mailplane


@pytest.fixture(autouse=True)
def _close_pooled_imap():
    """The endpoint keeps each device's IMAP connection in the process pool: not past a test."""
    yield
    POOL.close_all()
