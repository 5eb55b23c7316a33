"""Sync's FilterType (MS-ASCMD Sync Options): a phone asking for the last week gets the last
week, by the messages' INTERNALDATE, on the first Sync and on later ones; what leaves the window
is taken back with a SoftDelete; another FilterType is taken as it comes. The real endpoint and
the real Dovecot; the messages are appended with the dates they are given (IMAP APPEND)."""

from __future__ import annotations

import datetime as dt

import pytest

from devices.models import SyncState
from mailstore.imap import imap_session
from tests.activesync.phone import A, M, Phone, commands_of
from tests.activesync.test_sync_incremental import ImapSpy, _inbox_id
from tests.protocol.helpers import message

pytestmark = pytest.mark.protocol

E = "{GetItemEstimate}"


def _append(address: str, subject: str, days_old: float, flags: tuple = ()) -> int:
    """A message that arrived `days_old` days ago; its UID."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_old)
    with imap_session(address) as imap:
        answer = imap.append("INBOX", message("sender@example.net", address, subject=subject), flags, when)
    return int(answer.split(b"APPENDUID ")[1].split()[1].rstrip(b"]"))


def _filter(kind: int) -> str:
    return f"<FilterType>{kind}</FilterType>"


def _estimate(phone: Phone, inbox: str, key: str, kind: int | None = None) -> str | None:
    options = f"<as:Options><as:FilterType>{kind}</as:FilterType></as:Options>" if kind is not None else ""
    answer = phone.command(
        "GetItemEstimate",
        f'<GetItemEstimate xmlns="GetItemEstimate:" xmlns:as="AirSync:"><Collections><Collection>'
        f"<as:SyncKey>{key}</as:SyncKey><CollectionId>{inbox}</CollectionId>{options}</Collection>"
        "</Collections></GetItemEstimate>",
    )
    assert answer.findtext(f"{E}Response/{E}Status") == "1"
    return answer.findtext(f"{E}Response/{E}Collection/{E}Estimate")


def _subjects(page, kind: str = "Add") -> list[str]:
    return [a.find(f"{A}ApplicationData").findtext(f"{M}Subject") for a in commands_of(page, kind)]


def _ids(page, kind: str) -> list[str]:
    return [c.findtext(f"{A}ServerId") for c in commands_of(page, kind)]


def test_filter_type_sends_only_the_window_and_takes_back_what_leaves_it(running_mailplane, mailbox_factory):
    # given an INBOX with messages of today, 3, 10 and 40 days ago
    address, password = mailbox_factory()
    uids = {
        subject: _append(address, subject, days) for subject, days in (("d40", 40), ("d10", 10), ("d3", 3))
    }
    uids["d0"] = _append(address, "d0", 0.01)
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")

    # then GetItemEstimate for one week counts the two of the last week, for all counts four
    assert _estimate(phone, inbox, key, 3) == "2"
    assert _estimate(phone, inbox, key, 0) == "4"

    # when the phone asks for one week, one message a page
    first = phone.sync(inbox, key, window=1, extra=_filter(3))
    # then it gets today's, then the one of 3 days ago, and nothing older
    assert _subjects(first) == ["d0"] and first.find(f"{A}MoreAvailable") is not None
    key = first.findtext(f"{A}SyncKey")
    assert _estimate(phone, inbox, key) == "1"  # the FilterType held by the folder's state
    second = phone.sync(inbox, key, extra=_filter(3))
    assert _subjects(second) == ["d3"] and second.find(f"{A}MoreAvailable") is None
    key = second.findtext(f"{A}SyncKey")
    assert (
        SyncState.objects.get(
            folder__server_id=int(inbox), folder__device__device_id=phone.device_id
        ).filter_type
        == 3
    )

    # when another client flags the 40-day-old message, an old message is appended (dated 20
    # days ago) and a new one arrives
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        imap.add_flags([uids["d40"]], [b"\\Flagged"])
    uids["d20"] = _append(address, "d20", 20)
    uids["new"] = _append(address, "new", 0.01)
    # then the phone is told of the new one only: no change of a message it does not hold
    assert _estimate(phone, inbox, key) == "1"
    third = phone.sync(inbox, key, extra=_filter(3))
    assert _subjects(third) == ["new"]
    assert not commands_of(third, "Change") and not commands_of(third, "Delete")
    key = third.findtext(f"{A}SyncKey")

    # when the phone asks for all (FilterType 0) with its current key
    assert _estimate(phone, inbox, key, 0) == "3"
    wider = phone.sync(inbox, key, extra=_filter(0))
    # then it gets the three older ones, newest UID first, the flagged one with its flag
    assert wider.findtext(f"{A}Status") == "1"
    assert _subjects(wider) == ["d20", "d10", "d40"]
    d40 = next(a for a in commands_of(wider, "Add") if a.findtext(f"{A}ServerId") == f"{inbox}:{uids['d40']}")
    assert d40.find(f"{A}ApplicationData").findtext(f"{M}Flag/{M}FlagStatus") == "2"
    quiet = phone.sync(inbox, wider.findtext(f"{A}SyncKey"), extra=_filter(0))
    assert quiet.find(f"{A}Commands") is None
    key = quiet.findtext(f"{A}SyncKey")

    # when it asks for one week again
    assert _estimate(phone, inbox, key, 3) == "3"
    narrower = phone.sync(inbox, key, extra=_filter(3))
    # then the three older ones are taken back with SoftDelete, not Delete, and stay in the mailbox
    assert sorted(_ids(narrower, "SoftDelete")) == sorted(f"{inbox}:{uids[s]}" for s in ("d40", "d10", "d20"))
    assert not commands_of(narrower, "Delete") and not commands_of(narrower, "Add")
    with imap_session(address) as imap:
        imap.select_folder("INBOX", readonly=True)
        assert sorted(imap.search(["ALL"])) == sorted(uids.values())
    quiet = phone.sync(inbox, narrower.findtext(f"{A}SyncKey"), extra=_filter(3))
    assert quiet.find(f"{A}Commands") is None
    key = quiet.findtext(f"{A}SyncKey")

    # and an old message deleted by another client is not sent as a Delete to a phone without it
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        imap.add_flags([uids["d10"]], [b"\\Deleted"])
        imap.uid_expunge([uids["d10"]])
    last = phone.sync(inbox, key, extra=_filter(3))
    assert last.find(f"{A}Commands") is None, _ids(last, "Delete")


def test_a_message_that_ages_out_of_the_window_is_soft_deleted(
    running_mailplane, mailbox_factory, settings, monkeypatch
):
    # given a phone that holds, for one week, the messages of 1 and 6 days ago
    address, password = mailbox_factory()
    old = _append(address, "d6", 6)
    _append(address, "d1", 1)
    _append(address, "d20", 20)
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    page = phone.sync(inbox, key, extra=_filter(3))
    assert _subjects(page) == ["d1", "d6"]
    key = page.findtext(f"{A}SyncKey")
    key = phone.sync(inbox, key, extra=_filter(3)).findtext(f"{A}SyncKey")

    # when four days pass, nothing changing in the folder
    settings.ACTIVESYNC_FILTER_NOW = dt.datetime.now(dt.UTC) + dt.timedelta(days=4)
    spy = ImapSpy(monkeypatch)

    # then GetItemEstimate counts one, and the next Sync soft-deletes the 6-day-old message
    # (now 10 days old: the window is a week and a half day more, in whole days), with no Delete
    # and no Add
    assert _estimate(phone, inbox, key) == "1"
    page = phone.sync(inbox, key, extra=_filter(3))
    assert _ids(page, "SoftDelete") == [f"{inbox}:{old}"]
    assert not commands_of(page, "Delete") and not commands_of(page, "Add")
    # costing a FETCH of what changed since (and a SEARCH SINCE, which imapclient sends past
    # the spy): no listing of every message's flags
    fetches = [c for c in spy.commands if "FETCH" in c]
    assert fetches and all("CHANGEDSINCE" in c for c in fetches), spy.commands
    key = page.findtext(f"{A}SyncKey")
    assert phone.sync(inbox, key, extra=_filter(3)).find(f"{A}Commands") is None


def test_a_filter_type_that_is_not_a_time_window_is_refused(running_mailplane, mailbox_factory):
    # given a phone with a synced INBOX
    address, password = mailbox_factory()
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    # when it asks for FilterType 8 (incomplete tasks) on email
    answer = phone.request(
        "Sync",
        f'<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>{key}</SyncKey>'
        f"<CollectionId>{inbox}</CollectionId><Options><FilterType>8</FilterType></Options>"
        "</Collection></Collections></Sync>",
    )
    # then the request is refused and the folder's state keeps its key and FilterType
    assert answer.status == 400
    state = SyncState.objects.get(folder__server_id=int(inbox), folder__device__device_id=phone.device_id)
    assert (str(state.sync_key), state.filter_type) == (key, 0)
