"""Mail stores keyed by the immutable mailbox id (mailstore.layout): the move from the old
address-keyed layout, the deleted area and its purge."""

import datetime
import imaplib
import os
import pwd

import pytest

from domains.models import Mailbox
from domains.services import mailbox_delete
from mailstore import dovecot, layout
from mailstore.tasks import deleted_stores_purge
from tests.factories import DomainFactory, MailboxFactory
from tests.protocol.helpers import lmtp_deliver, message

UTC = datetime.UTC


def old_home(store, domain: str, local_part: str, *, files: int = 1):
    """A home of the old layout (<store>/<domain>/<local part>) with `files` messages."""
    home = store / domain / local_part
    for sub in ("cur", "new", "tmp"):
        (home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    for i in range(files):
        name = f"1700000000.M{i}P1.host,S=10:2,S"
        (home / "Maildir" / "cur" / name).write_bytes(b"Subject: x\r\n\r\nhi\r\n")
    return home


@pytest.mark.django_db
def test_old_homes_move_to_the_mailbox_id_and_a_second_run_changes_nothing(tmp_path):
    # given a dev install with the old layout: two live mailboxes and one deleted address
    store = tmp_path / "mail"
    domain = DomainFactory(name="old.test")
    mario = MailboxFactory(domain=domain, local_part="mario")
    anna = MailboxFactory(domain=domain, local_part="anna")
    old_home(store, "old.test", "mario", files=2)
    old_home(store, "old.test", "anna", files=1)
    old_home(store, "old.test", "gone", files=3)
    now = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    # when the layout step runs (as every Dovecot start does)
    report = layout.layout_migrate(store=store, now=now)

    # then each home is under its mailbox id, the orphan is in the deleted area, the old tree is gone
    assert len(list((layout.maildir_path(mario.pk, store=store) / "cur").iterdir())) == 2
    assert len(list((layout.maildir_path(anna.pk, store=store) / "cur").iterdir())) == 1
    assert [p.name for p in report.set_aside] == ["old.test-gone@20261130T120000Z"]
    assert len(list((report.set_aside[0] / "Maildir" / "cur").iterdir())) == 3
    assert not (store / "old.test").exists()
    assert report.conflicts == []

    # and running it again moves nothing and loses nothing
    again = layout.layout_migrate(store=store, now=now)
    assert (again.moved, again.set_aside, again.conflicts) == ([], [], [])
    assert len(list((layout.maildir_path(mario.pk, store=store) / "cur").iterdir())) == 2


@pytest.mark.django_db
def test_an_old_home_whose_new_place_exists_is_left_alone(tmp_path):
    # given a mailbox that already has a home in the new layout and a stale old one
    store = tmp_path / "mail"
    mailbox = MailboxFactory(domain=DomainFactory(name="both.test"), local_part="mario")
    (layout.maildir_path(mailbox.pk, store=store) / "cur").mkdir(parents=True)
    stale = old_home(store, "both.test", "mario", files=1)
    # when the layout step runs
    report = layout.layout_migrate(store=store)
    # then nothing is merged or overwritten: the old home stays and is reported
    assert report.conflicts == [stale]
    assert list((layout.maildir_path(mailbox.pk, store=store) / "cur").iterdir()) == []
    assert len(list((stale / "Maildir" / "cur").iterdir())) == 1


def test_deleted_homes_are_purged_after_15_days_and_not_before(tmp_path):
    # given three homes set aside 16 days, 14 days and 1 hour ago
    store = tmp_path / "mail"
    now = datetime.datetime(2026, 12, 1, 3, 40, tzinfo=UTC)
    (layout.home_path(1, store=store) / "Maildir").mkdir(parents=True)
    (layout.home_path(2, store=store) / "Maildir").mkdir(parents=True)
    (layout.home_path(3, store=store) / "Maildir").mkdir(parents=True)
    old = layout.store_set_aside(mailbox_id=1, now=now - datetime.timedelta(days=16), store=store)
    recent = layout.store_set_aside(mailbox_id=2, now=now - datetime.timedelta(days=14), store=store)
    fresh = layout.store_set_aside(mailbox_id=3, now=now - datetime.timedelta(hours=1), store=store)
    assert not layout.home_path(1, store=store).exists()
    # when the daily purge runs
    purged = layout.deleted_purge(now=now, store=store)
    # then only the one older than 15 days is gone
    assert purged == [old]
    assert not old.exists() and recent.exists() and fresh.exists()


def test_the_daily_purge_task_is_scheduled_and_purges_homes_and_snapshots(settings, tmp_path):
    # given a mailbox with a home and a snapshot, deleted 15 days and a minute ago
    settings.MAIL_STORE_DIR = tmp_path / "mail"
    settings.SNAPSHOT_DIR = tmp_path / "snapshots"
    (layout.home_path(7, store=settings.MAIL_STORE_DIR)).mkdir(parents=True)
    (settings.SNAPSHOT_DIR / "7" / "2026-11-30" / "Maildir").mkdir(parents=True)
    layout.store_set_aside(
        mailbox_id=7, now=datetime.datetime.now(UTC) - datetime.timedelta(days=15, minutes=1)
    )
    assert not (settings.SNAPSHOT_DIR / "7").exists()
    assert len(list((settings.SNAPSHOT_DIR / "deleted").iterdir())) == 1
    # when the daily task runs, both are gone
    assert deleted_stores_purge() == 2
    assert list(layout.deleted_dir().iterdir()) == []
    assert list((settings.SNAPSHOT_DIR / "deleted").iterdir()) == []
    assert settings.CELERY_BEAT_SCHEDULE["mailstore-deleted-stores-purge"]["task"] == (
        "mailstore.tasks.deleted_stores_purge"
    )


def imap_count(plane, address: str, password: str) -> int:
    with imaplib.IMAP4_SSL(plane.host, plane.ports["imaps"], ssl_context=plane.ssl_context()) as imap:
        imap.login(address, password)
        typ, data = imap.select("INBOX", readonly=True)
        assert typ == "OK"
        return int(data[0])


@pytest.mark.protocol
def test_dovecot_serves_the_home_keyed_by_the_mailbox_id(running_mailplane, mailbox_factory):
    # given a mailbox with one delivered message
    address, password = mailbox_factory()
    mailbox = Mailbox.objects.get(local_part=address.split("@")[0], domain__name=address.split("@")[1])
    assert lmtp_deliver(running_mailplane, address, message("a@example.net", address))[1][0] == 250
    # then Dovecot's userdb gives the id-keyed home and the message is there on disk
    home = running_mailplane.doveadm("user", "-f", "home", address).strip()
    assert home == str(layout.home_path(mailbox.pk, store=running_mailplane.config.mail_store_dir))
    maildir = dovecot.maildir_path(mailbox.pk, config=running_mailplane.config)
    assert len(list((maildir / "new").iterdir())) == 1


@pytest.mark.protocol
def test_a_new_mailbox_with_a_deleted_address_starts_empty(running_mailplane, mailbox_factory):
    # given a mailbox with mail, deleted through the service
    domain = DomainFactory()
    address, password = mailbox_factory(domain=domain, local_part="reused")
    first = Mailbox.objects.get(domain=domain, local_part="reused")
    first_id = first.pk
    for _ in range(2):
        assert lmtp_deliver(running_mailplane, address, message("a@example.net", address))[1][0] == 250
    assert imap_count(running_mailplane, address, password) == 2
    mailbox_delete(mailbox=first)
    # then its mail is set aside in the deleted area, not left under the address
    store = running_mailplane.config.mail_store_dir
    assert not layout.home_path(first_id, store=store).exists()
    (aside,) = [p for p in layout.deleted_dir(store).iterdir() if p.name.startswith(f"{first_id}@")]
    assert len(list((aside / "Maildir" / "new").iterdir())) == 2

    # when a new mailbox gets the same address
    address2, password2 = mailbox_factory(domain=domain, local_part="reused")
    assert address2 == address
    # then it starts empty at once (real IMAP)
    assert imap_count(running_mailplane, address2, password2) == 0


@pytest.mark.protocol
def test_a_dev_install_maildir_is_moved_and_served_after_the_start_step(running_mailplane, mailbox_factory):
    # given a mailbox whose mail is still in the old layout (a dev install before issue 12)
    domain = DomainFactory()
    address, password = mailbox_factory(domain=domain, local_part="legacy")
    store = running_mailplane.config.mail_store_dir
    home = old_home(store, domain.name, "legacy", files=3)
    for path in home.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    vmail = pwd.getpwnam(running_mailplane.config.vmail_user)
    for path in [home.parent, home, *home.rglob("*")]:
        os.chown(path, vmail.pw_uid, vmail.pw_gid)
    # when the step the Dovecot start runs is run
    dovecot.prepare_store(running_mailplane.config)
    # then Dovecot serves the three messages from the id-keyed home
    assert imap_count(running_mailplane, address, password) == 3
    assert not (store / domain.name).exists()
