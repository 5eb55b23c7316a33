"""Protocol tests: real clients (imaplib, poplib, smtplib.LMTP, sockets) against a real Dovecot.

The fixtures `mailplane` (alias `dovecot`), `running_mailplane` and `mailbox_factory` live in
tests/protocol/mailplane.py, registered as a plugin by tests/conftest.py so that one Dovecot
serves the whole session, whichever test directories run."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/protocol/" in str(item.fspath):
            item.add_marker(pytest.mark.protocol)
