"""The Archive's tests: a blob store of their own (a temporary directory) for each test."""

import pytest

from tests.factories import MailboxFactory


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.ARCHIVE_BLOB_DIR = tmp_path / "archive"
    settings.ARCHIVE_BLOB_STORE = "archiving.blobstore.filesystem.FileSystemBlobStore"
    return settings.ARCHIVE_BLOB_DIR


@pytest.fixture
def archived_mailbox(db):
    """A mailbox with an archive attached (10 years), through the service."""
    from archiving.services import archive_attach

    def make(retention_years: int = 10, **kwargs):
        mailbox = MailboxFactory(**kwargs)
        plan = archive_attach(mailbox=mailbox, retention_years=retention_years)
        return mailbox, plan.archive

    return make


def raw_message(
    tag: str, *, sender: str = "alice@far.example", to: str = "bob@acme.test", body: str = ""
) -> bytes:
    return (
        f"From: Alice <{sender}>\r\nTo: {to}\r\nSubject: {tag}\r\nMessage-ID: <{tag}@far.example>\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\n{body or 'hello ' + tag}\r\n"
    ).encode()
