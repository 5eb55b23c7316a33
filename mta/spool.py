"""The outbound spool: one file per queued message under settings.SPOOL_DIR.

A file is written to a temporary name, fsynced, renamed, and its directory fsynced: once
`spool_write` returns, the bytes survive a crash. The database row that points at it is
committed afterwards; a file without a row (crash in between) is garbage, never a lost mail.
"""

import os
from pathlib import Path

from django.conf import settings


def spool_dir() -> Path:
    path = Path(settings.SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def spool_write(name: str, data: bytes) -> Path:
    directory = spool_dir()
    final = directory / f"{name}.eml"
    tmp = directory / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(directory)
    return final


def spool_read(path: str | Path) -> bytes:
    return Path(path).read_bytes()


def spool_remove(path: str | Path) -> None:
    try:
        Path(path).unlink()
    except FileNotFoundError:
        pass
