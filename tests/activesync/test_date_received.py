"""DateReceived is the message's INTERNALDATE in UTC, for messages of either half of the year:
the local time mailstore gives is computed with the offset of the message's own day (imapclient
applies today's, which put summer mail an hour off in winter and the reverse)."""

import datetime as dt

import pytest

from mailstore.imap import imap_session
from mailstore.reader import internal_date
from tests.activesync.phone import A, M, Phone, commands_of
from tests.protocol.helpers import message

SUMMER = dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
WINTER = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
ELSEWHERE = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


def local(*fields: int) -> dt.datetime:
    """A wall-clock time in the suite's zone (Europe/Rome), without a zone, as mailstore gives it."""
    return dt.datetime(*fields)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"01-Jul-2026 10:00:00 +0200", local(2026, 7, 1, 10, 0)),  # summer time in Rome
        (b"01-Jul-2026 08:00:00 +0000", local(2026, 7, 1, 10, 0)),
        (b"15-Jan-2026 10:00:00 +0000", local(2026, 1, 15, 11, 0)),  # winter time
        (b" 5-Feb-2026 23:30:00 -0130", local(2026, 2, 6, 2, 0)),
        (b"05-feb-2026 23:30:00 -0130", local(2026, 2, 6, 2, 0)),
    ],
)
def test_internal_date_is_the_local_time_of_its_own_day(text, expected):
    assert internal_date(text) == expected
    aware = internal_date(text, normalise=False)
    assert aware.tzinfo is not None and aware.astimezone(dt.UTC) == expected.astimezone(dt.UTC)


def test_a_date_of_another_shape_is_read_by_imapclient_or_refused():
    assert internal_date(b"01-Jul-2026 10:00:00 +0200") == internal_date(b"01-Jul-2026 10:00:00 +0200 ")
    with pytest.raises(ValueError):
        internal_date(b"not a date")


def test_date_received_is_right_in_both_halves_of_the_year(running_mailplane, mailbox_factory):
    address, password = mailbox_factory()
    with imap_session(address) as imap:
        for when, subject in ((SUMMER, "summer"), (WINTER, "winter"), (ELSEWHERE, "elsewhere")):
            imap.append("INBOX", message("sender@example.net", address, subject=subject), msg_time=when)
    phone = Phone(address, password)
    phone.provision()
    inbox = phone.inbox_id()
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    page = phone.sync(inbox, key)
    received = {
        add.find(f"{A}ApplicationData").findtext(f"{M}Subject"): add.find(f"{A}ApplicationData").findtext(
            f"{M}DateReceived"
        )
        for add in commands_of(page, "Add")
    }
    assert received == {
        "summer": "2026-07-01T08:00:00.000Z",
        "winter": "2026-01-15T09:00:00.000Z",
        "elsewhere": "2026-03-29T06:30:00.000Z",
    }


def test_every_way_of_reading_a_message_gives_the_local_time_of_its_day(running_mailplane, mailbox_factory):
    """One message, two messages, a stream (exports, the archive import): the same time."""
    from mailstore.imap import LiveMailbox
    from mailstore.reader import mail_session

    address, _password = mailbox_factory()
    with imap_session(address) as imap:
        imap.append("INBOX", message("sender@example.net", address, subject="summer"), msg_time=SUMMER)
        imap.append("INBOX", message("sender@example.net", address, subject="winter"), msg_time=WINTER)
    expected = [local(2026, 7, 1, 10, 0), local(2026, 1, 15, 10, 0)]
    with mail_session(LiveMailbox(address)) as mail:
        uids = mail.uids_after("INBOX")
        assert [m.internal_date for m in mail.messages_raw("INBOX", uids)] == expected
        assert [mail.message_raw("INBOX", uid).internal_date for uid in uids] == expected
        assert [m.internal_date for m in mail.messages_stream("INBOX")] == expected
