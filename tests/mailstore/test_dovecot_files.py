"""The rendered files that hold secrets, checked against the running Dovecot: each is readable by
the process that reads it (as the user that process really runs as) and by nobody else, and
Dovecot still logs in and delivers with those modes."""

import os
import stat
from pathlib import Path

import pytest

from tests.protocol.helpers import imap_login, lmtp_deliver, message

pytestmark = pytest.mark.protocol

# file → the Dovecot process that opens it
READERS = {
    "sql-app.conf.ext": "auth",
    "sql-main.conf.ext": "auth",
    "master-users": "auth",
    "dict-sql.conf.ext": "dict",
}


def children(master_pid: int) -> dict[str, tuple[int, set[int]]]:
    """name → (effective uid, group ids) of the master's child processes."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["PPid"]) != master_pid:
            continue
        uid = int(fields["Uid"].split()[1])
        gids = {int(fields["Gid"].split()[1]), *map(int, fields["Groups"].split())}
        found[fields["Name"].strip()] = (uid, gids)
    return found


def can_read(path: Path, uid: int, gids: set[int]) -> bool:
    st = path.stat()
    if uid == 0:
        return True
    if uid == st.st_uid:
        return bool(st.st_mode & stat.S_IRUSR)
    if st.st_gid in gids:
        return bool(st.st_mode & stat.S_IRGRP)
    return bool(st.st_mode & stat.S_IROTH)


def test_secret_files_are_readable_only_by_the_process_that_reads_them(running_mailplane, mailbox_factory):
    plane = running_mailplane
    config = plane.config
    # Given a login (starts auth) and a delivery (quota_clone starts dict): both still work
    address, password = mailbox_factory()
    assert imap_login(plane, address, password)[0] is True
    rcpt, data = lmtp_deliver(plane, address, message("a@example.net", address))
    assert (rcpt[0], data[0]) == (250, 250)

    processes = children(int(config.pid_path.read_text().split()[0]))
    assert {"auth", "dict", "config"} <= set(processes), processes

    for name, reader in READERS.items():
        path = config.directory / name
        mode = stat.S_IMODE(path.stat().st_mode)
        uid, gids = processes[reader]
        assert uid != 0, f"{reader} runs as root: the check below would prove nothing"
        assert can_read(path, uid, gids), (name, reader, oct(mode))
        assert mode & 0o007 == 0, (name, oct(mode))
        assert (path.stat().st_uid, mode) == (0, 0o640)

    # The policy server's API key: only the config parser (root) reads it; dovecot.conf has none.
    policy = config.directory / "auth-policy.conf.ext"
    assert processes["config"][0] == 0
    assert (policy.stat().st_uid, policy.stat().st_gid, stat.S_IMODE(policy.stat().st_mode)) == (0, 0, 0o600)
    assert config.internal_api_token in policy.read_text()
    assert config.internal_api_token not in config.conf_path.read_text()

    # The quota-warning script (it holds the API key too) runs as vmail: root:vmail 0750.
    script = config.directory / "quota-warning.py"
    vmail_gid = os.stat(config.mail_store_dir).st_gid
    assert (script.stat().st_uid, script.stat().st_gid, stat.S_IMODE(script.stat().st_mode)) == (
        0, vmail_gid, 0o750)
