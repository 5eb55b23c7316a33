"""Where a mailbox's mail lives on disk: keyed by its immutable id, never by its address.

    <MAIL_STORE_DIR>/mailboxes/<mailbox id>/          the home Dovecot's userdb returns
                                   Maildir/           the mail (mail_location = maildir:~/Maildir)
                                   sieve/, .dovecot.sieve
    <MAIL_STORE_DIR>/deleted/<mailbox id>@<UTC time>/ a deleted mailbox's home, kept
                                                      DELETED_RETENTION_DAYS, then purged

A mailbox id is never reused (a PostgreSQL sequence), so a new mailbox with a deleted one's
address gets a new, empty home at once, and a snapshot keyed by the id is never ambiguous.

Before this layout the home was <store>/<domain>/<local part>: `layout_migrate` (run by every
Dovecot start, mailstore.dovecot) moves such homes to the new place. It is idempotent: a home
already moved is left alone; an old home whose address no longer has a mailbox is set aside as
deleted (and purged 15 days later); an old home whose new place is already taken is left where
it is and reported (nothing is merged or overwritten).
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings

logger = logging.getLogger(__name__)

MAILBOXES_DIR = "mailboxes"
DELETED_DIR = "deleted"
DELETED_RETENTION_DAYS = 15
_STAMP = "%Y%m%dT%H%M%SZ"


def store_dir(store: Path | None = None) -> Path:
    return Path(store if store is not None else settings.MAIL_STORE_DIR)


def home_path(mailbox_id: int, *, store: Path | None = None) -> Path:
    """The home of mailbox `mailbox_id` (what Dovecot's userdb returns for it)."""
    return store_dir(store) / MAILBOXES_DIR / str(int(mailbox_id))


def maildir_path(mailbox_id: int, *, store: Path | None = None) -> Path:
    return home_path(mailbox_id, store=store) / "Maildir"


def deleted_dir(store: Path | None = None) -> Path:
    return store_dir(store) / DELETED_DIR


def store_set_aside(
    *, mailbox_id: int, now: datetime.datetime | None = None, store: Path | None = None
) -> Path | None:
    """Move a deleted mailbox's home into the deleted area (one rename: the same file system),
    and its Time Machine snapshots into theirs (settings.SNAPSHOT_DIR/deleted/): both are kept
    DELETED_RETENTION_DAYS, then purged. Returns the home's new place, or None when the mailbox
    never had a home. Running it again is a no-op."""
    now = now or datetime.datetime.now(datetime.UTC)
    if store is None:
        _set_aside(
            Path(settings.SNAPSHOT_DIR) / str(int(mailbox_id)), Path(settings.SNAPSHOT_DIR) / DELETED_DIR, now
        )
    home = home_path(mailbox_id, store=store)
    if not home.exists():
        return None
    target = deleted_dir(store) / f"{int(mailbox_id)}@{now.astimezone(datetime.UTC).strftime(_STAMP)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.parent.chmod(0o700)
    os.rename(home, target)
    logger.info("mail store of mailbox %s set aside in %s", mailbox_id, target)
    return target


def _set_aside(source: Path, area: Path, now: datetime.datetime) -> Path | None:
    if not source.exists():
        return None
    area.mkdir(parents=True, exist_ok=True)
    area.chmod(0o700)
    target = area / f"{source.name}@{now.astimezone(datetime.UTC).strftime(_STAMP)}"
    os.rename(source, target)
    return target


def _latest_set_aside(area: Path, mailbox_id: int) -> Path | None:
    if not area.is_dir():
        return None
    found = [
        entry
        for entry in area.iterdir()
        if entry.name.partition("@")[0] == str(int(mailbox_id)) and deleted_set_aside_at(entry) is not None
    ]
    return max(found, key=deleted_set_aside_at, default=None)


def deleted_store_exists(*, mailbox_id: int, store: Path | None = None) -> bool:
    """True when the deleted area still holds the home of `mailbox_id` (not purged yet)."""
    return _latest_set_aside(deleted_dir(store), mailbox_id) is not None


def store_bring_back(*, mailbox_id: int, store: Path | None = None) -> Path | None:
    """The reverse of store_set_aside: the latest home of `mailbox_id` set aside goes back to its
    place (one rename), and its snapshots too. Returns the home, or None when none was set aside
    (the mailbox never had mail). OSError (EEXIST) when the place is taken: nothing is merged."""
    home = home_path(mailbox_id, store=store)
    source = _latest_set_aside(deleted_dir(store), mailbox_id)
    if store is None:
        snapshots = Path(settings.SNAPSHOT_DIR)
        aside = _latest_set_aside(snapshots / DELETED_DIR, mailbox_id)
        target = snapshots / str(int(mailbox_id))
        if aside is not None and not target.exists():
            os.rename(aside, target)
    if source is None:
        return None
    if home.exists():
        raise FileExistsError(f"{home} exists: the deleted home {source} is left where it is")
    home.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, home)
    logger.info("mail store of mailbox %s brought back from %s", mailbox_id, source)
    return home


def deleted_set_aside_at(path: Path) -> datetime.datetime | None:
    """When an entry of the deleted area was set aside (from its name), or None."""
    _, _, stamp = path.name.partition("@")
    try:
        return datetime.datetime.strptime(stamp, _STAMP).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None


def deleted_purge(
    *,
    now: datetime.datetime | None = None,
    retention_days: int = DELETED_RETENTION_DAYS,
    store: Path | None = None,
) -> list[Path]:
    """Remove the deleted homes set aside more than `retention_days` ago; return them."""
    now = now or datetime.datetime.now(datetime.UTC)
    limit = now - datetime.timedelta(days=retention_days)
    purged = []
    areas = [deleted_dir(store)]
    if store is None:
        areas.append(Path(settings.SNAPSHOT_DIR) / DELETED_DIR)
    entries = sorted(entry for area in areas if area.is_dir() for entry in area.iterdir())
    for entry in entries:
        when = deleted_set_aside_at(entry)
        if when is None or when > limit:
            continue
        shutil.rmtree(entry)
        purged.append(entry)
        logger.info("deleted mail store %s purged (set aside %s)", entry, when.isoformat())
    return purged


@dataclass
class LayoutReport:
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    set_aside: list[Path] = field(default_factory=list)
    conflicts: list[Path] = field(default_factory=list)


def _mailbox_ids() -> dict[tuple[str, str], int]:
    # Through the registry: mailstore sits below domains (docs/architecture.md, "Layers").
    mailbox_model = apps.get_model("domains", "Mailbox")
    rows = mailbox_model.objects.values_list("domain__name", "local_part", "id")
    return {(domain.lower(), local_part.lower()): pk for domain, local_part, pk in rows}


def layout_migrate(*, store: Path | None = None, now: datetime.datetime | None = None) -> LayoutReport:
    """Move homes of the old layout (<store>/<domain>/<local part>) to <store>/mailboxes/<id>."""
    root = store_dir(store)
    report = LayoutReport()
    if not root.is_dir():
        return report
    candidates = [
        d for d in sorted(root.iterdir()) if d.is_dir() and d.name not in (MAILBOXES_DIR, DELETED_DIR)
    ]
    if not candidates:
        return report
    ids = _mailbox_ids()
    now = now or datetime.datetime.now(datetime.UTC)
    (root / MAILBOXES_DIR).mkdir(exist_ok=True)
    for domain_dir in candidates:
        for old_home in sorted(p for p in domain_dir.iterdir() if p.is_dir()):
            mailbox_id = ids.get((domain_dir.name.lower(), old_home.name.lower()))
            if mailbox_id is None:
                target = deleted_dir(root) / (
                    f"{domain_dir.name}-{old_home.name}@{now.astimezone(datetime.UTC).strftime(_STAMP)}"
                )
                target.parent.mkdir(exist_ok=True)
                os.rename(old_home, target)
                report.set_aside.append(target)
                continue
            target = home_path(mailbox_id, store=root)
            if target.exists():
                logger.warning("old mail store %s not moved: %s already exists", old_home, target)
                report.conflicts.append(old_home)
                continue
            os.rename(old_home, target)
            report.moved.append((old_home, target))
        try:
            domain_dir.rmdir()  # only when empty
        except OSError:
            pass
    for old, new in report.moved:
        logger.info("mail store moved from %s to %s", old, new)
    return report
