"""Sync costs what changed (issue 16 item 3): after the first listing a Sync asks Dovecot only for
what changed since the state's HIGHESTMODSEQ (CONDSTORE/QRESYNC). The real endpoint and the real
Dovecot; the IMAP lines the endpoint's sessions send and receive are counted (a spy on imaplib,
which still talks to the server)."""

from __future__ import annotations

import imaplib
import re

import pytest

from devices.models import SyncState
from devices.uidsets import uids_unpack
from mailstore.imap import imap_session
from tests.activesync.phone import A, F, M, Phone, commands_of
from tests.protocol.helpers import message

pytestmark = pytest.mark.protocol

_FETCH_LINE = re.compile(rb"^\* \d+ FETCH ")


class ImapSpy:
    """Every IMAP command this process sends, and how many untagged FETCH responses it reads."""

    def __init__(self, monkeypatch):
        self.commands: list[str] = []
        self.fetch_responses = 0
        command, get_line = imaplib.IMAP4._command, imaplib.IMAP4._get_line
        spy = self

        def _command(imap, name, *args):
            spy.commands.append(" ".join(str(a) for a in (name, *args)))
            return command(imap, name, *args)

        def _get_line(imap):
            line = get_line(imap)
            if _FETCH_LINE.match(line):
                spy.fetch_responses += 1
            return line

        monkeypatch.setattr(imaplib.IMAP4, "_command", _command)
        monkeypatch.setattr(imaplib.IMAP4, "_get_line", _get_line)

    def reset(self) -> None:
        self.commands.clear()
        self.fetch_responses = 0


def _fill(address: str, count: int) -> None:
    with imap_session(address) as imap:
        imap.multiappend(
            "INBOX", [message("sender@example.net", address, subject=f"m{i}") for i in range(count)]
        )


def _inbox_id(phone: Phone) -> str:
    answer = phone.folder_sync()
    return next(
        add.findtext(f"{F}ServerId") for add in answer.iter(f"{F}Add") if add.findtext(f"{F}Type") == "2"
    )


def _sync_all(phone: Phone, inbox: str, key: str, window: int) -> tuple[str, dict[str, str]]:
    """Sync until nothing more is available: the last key and ServerId → Subject of every Add."""
    seen: dict[str, str] = {}
    while True:
        page = phone.sync(inbox, key, window=window)
        assert page.findtext(f"{A}Status") == "1"
        for add in commands_of(page, "Add"):
            server_id = add.findtext(f"{A}ServerId")
            assert server_id not in seen  # nothing is sent twice
            seen[server_id] = add.find(f"{A}ApplicationData").findtext(f"{M}Subject")
        key = page.findtext(f"{A}SyncKey")
        if page.find(f"{A}MoreAvailable") is None:
            return key, seen


def _uid(server_id: str) -> int:
    return int(server_id.split(":")[1])


def test_an_incremental_sync_of_a_big_folder_sends_only_what_changed(
    running_mailplane, mailbox_factory, monkeypatch
):
    # given a phone that holds all of a 2,000-message INBOX
    address, password = mailbox_factory()
    _fill(address, 2000)
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key, seen = _sync_all(phone, inbox, phone.sync(inbox, "0").findtext(f"{A}SyncKey"), window=512)
    assert len(seen) == 2000
    by_subject = {subject: server_id for server_id, subject in seen.items()}
    read, gone = by_subject["m10"], by_subject["m1500"]

    # when another IMAP client reads one message and expunges another, and one message arrives
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        imap.add_flags([_uid(read)], [b"\\Seen"])
        imap.add_flags([_uid(gone)], [b"\\Deleted"])
        imap.uid_expunge([_uid(gone)])
        imap.append("INBOX", message("sender@example.net", address, subject="new"))
    spy = ImapSpy(monkeypatch)

    # then GetItemEstimate counts exactly those three, without listing the folder
    answer = phone.command(
        "GetItemEstimate",
        f'<GetItemEstimate xmlns="GetItemEstimate:" xmlns:as="AirSync:"><Collections><Collection>'
        f"<as:SyncKey>{key}</as:SyncKey><CollectionId>{inbox}</CollectionId></Collection>"
        "</Collections></GetItemEstimate>",
    )
    assert (
        answer.findtext("{GetItemEstimate}Response/{GetItemEstimate}Collection/{GetItemEstimate}Estimate")
        == "3"
    )
    assert spy.fetch_responses == 2  # the read one and the new one: the expunged one is VANISHED
    spy.reset()

    # and the next Sync sends exactly the deletion, the change and the new message
    page = phone.sync(inbox, key)
    assert [d.findtext(f"{A}ServerId") for d in commands_of(page, "Delete")] == [gone]
    [change] = commands_of(page, "Change")
    assert change.findtext(f"{A}ServerId") == read
    assert change.find(f"{A}ApplicationData").findtext(f"{M}Read") == "1"
    [add] = commands_of(page, "Add")
    assert add.find(f"{A}ApplicationData").findtext(f"{M}Subject") == "new"
    assert page.find(f"{A}MoreAvailable") is None
    # costing what changed: one FETCH CHANGEDSINCE (two answers) and the new message's body;
    # no SEARCH of the folder, no FETCH of every UID's flags
    fetches = [c for c in spy.commands if "FETCH" in c]
    assert any("CHANGEDSINCE" in c and "VANISHED" in c for c in fetches), spy.commands
    assert not [c for c in fetches if "CHANGEDSINCE" not in c and "BODY.PEEK[]" not in c], spy.commands
    assert not [c for c in spy.commands if c.startswith("SEARCH") or " SEARCH " in c], spy.commands
    # the SELECT that listed the changes serves the body fetch too: no NOOP in between
    assert not [c for c in spy.commands if c.startswith("NOOP")], spy.commands
    assert spy.fetch_responses == 3
    state = SyncState.objects.get(folder__server_id=int(inbox), folder__device__device_id=phone.device_id)
    # the device holds 2,000 messages (one read), stored as UID ranges, and lacks nothing
    assert sum(map(len, (uids_unpack(text) for text in state.items.values()))) == 2000
    assert uids_unpack(state.items["1"]) == [_uid(read)]
    assert state.pending == {"deleted": "", "changed": {}, "added": ""}

    # the phone that lost that answer repeats its key and gets the same answer again
    again = phone.sync(inbox, key)
    assert [a.findtext(f"{A}ServerId") for a in commands_of(again, "Add")] == [add.findtext(f"{A}ServerId")]
    assert [d.findtext(f"{A}ServerId") for d in commands_of(again, "Delete")] == [gone]
    assert again.findtext(f"{A}SyncKey") == page.findtext(f"{A}SyncKey")

    # and a Sync with nothing new costs one STATUS: no FETCH at all
    spy.reset()
    key = page.findtext(f"{A}SyncKey")
    empty = phone.sync(inbox, key)
    assert empty.find(f"{A}Commands") is None
    assert spy.fetch_responses == 0 and not [c for c in spy.commands if "FETCH" in c]


def test_changes_while_a_folder_is_sent_in_pages_arrive_once_each(
    running_mailplane, mailbox_factory, monkeypatch
):
    # given a phone half-way through a 30-message INBOX in pages of 10
    address, password = mailbox_factory()
    _fill(address, 30)
    phone = Phone(address, password)
    phone.provision()
    inbox = _inbox_id(phone)
    key = phone.sync(inbox, "0").findtext(f"{A}SyncKey")
    first = phone.sync(inbox, key, window=10)
    assert first.find(f"{A}MoreAvailable") is not None
    sent = {
        a.findtext(f"{A}ServerId"): a.find(f"{A}ApplicationData").findtext(f"{M}Subject")
        for a in commands_of(first, "Add")
    }
    assert set(sent.values()) == {f"m{i}" for i in range(20, 30)}  # newest first
    key = first.findtext(f"{A}SyncKey")
    prefix = next(iter(sent)).split(":")[0]

    # when another client expunges one message sent (m25) and one not yet sent (m5), flags one
    # sent (m22) and one not yet sent (m7), and a message arrives
    with imap_session(address) as imap:
        imap.select_folder("INBOX")
        uids = sorted(imap.search(["ALL"]))  # m0 … m29 in order
        imap.add_flags([uids[25], uids[5]], [b"\\Deleted"])
        imap.uid_expunge([uids[25], uids[5]])
        imap.add_flags([uids[22], uids[7]], [b"\\Flagged"])
        imap.append("INBOX", message("sender@example.net", address, subject="late"))
    spy = ImapSpy(monkeypatch)

    # then the next pages send: the deletion and the change of what the phone holds, then the
    # rest newest first (the new message, m19 … m0 without m5, m7 with its flag), each once
    deleted, changed, added = [], [], {}
    while True:
        page = phone.sync(inbox, key, window=10)
        deleted += [d.findtext(f"{A}ServerId") for d in commands_of(page, "Delete")]
        changed += [c.findtext(f"{A}ServerId") for c in commands_of(page, "Change")]
        for a in commands_of(page, "Add"):
            assert a.findtext(f"{A}ServerId") not in added and a.findtext(f"{A}ServerId") not in sent
            added[a.findtext(f"{A}ServerId")] = a.find(f"{A}ApplicationData")
        key = page.findtext(f"{A}SyncKey")
        if page.find(f"{A}MoreAvailable") is None:
            break
    assert deleted == [f"{prefix}:{uids[25]}"]
    assert changed == [f"{prefix}:{uids[22]}"]
    subjects = [data.findtext(f"{M}Subject") for data in added.values()]
    assert subjects == ["late"] + [f"m{i}" for i in range(19, -1, -1) if i != 5]
    assert added[f"{prefix}:{uids[7]}"].findtext(f"{M}Flag/{M}FlagStatus") == "2"
    # none of those pages listed the folder: each asked for what changed since the last one
    # (a page's sizes are asked for the messages it sends, to keep it within its byte limit)
    sizes = [c for c in spy.commands if c.endswith("(UID RFC822.SIZE)")]
    assert sizes and not [c for c in sizes if "*" in c], spy.commands
    fetches = [c for c in spy.commands if "FETCH" in c and "BODY.PEEK[]" not in c and c not in sizes]
    assert fetches and all("CHANGEDSINCE" in c for c in fetches), spy.commands
    # and the phone now holds exactly the folder
    with imap_session(address) as imap:
        imap.select_folder("INBOX", readonly=True)
        now = set(imap.search(["ALL"]))
    held = {_uid(s) for s in sent} - {uids[25]} | {_uid(s) for s in added}
    assert held == now
