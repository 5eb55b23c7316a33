"""The blob store on a local (or mounted) file system: `<root>/ab/<sha256>.zst`.

One level of 256 directories: they all exist after the first few hundred messages, so a write
costs two fsyncs (file, directory) and nothing more; ext4 and XFS index large directories
(10 million messages are ~40,000 files per directory)."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from archiving.blobstore import BlobStore, BlobStoreError


class FileSystemBlobStore(BlobStore):
    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def _write(self, key: str, data: bytes) -> None:
        """Durable when it returns: the data fsynced in a temporary file, renamed into place, the
        directory fsynced (and each directory created on the way, in its parent)."""
        path = self._path(key)
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            except FileNotFoundError:
                self._make_dirs(path.parent)
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                pass
            raise BlobStoreError(f"cannot write blob {key}: {exc}") from exc

    def _make_dirs(self, directory: Path) -> None:
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            if directory == self.root or directory.parent == directory:
                break
            directory = directory.parent
        for each in reversed(missing):
            try:
                each.mkdir(mode=0o750)
            except FileExistsError:
                pass  # made by a concurrent writer: its parent's fsync may not have happened yet
            _fsync_dir(each.parent)

    def _check(self) -> None:
        try:
            if not self.root.is_dir():
                self._make_dirs(self.root)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise BlobStoreError(f"blob store {self.root} is not writable")
        except OSError as exc:
            raise BlobStoreError(f"cannot reach the blob store: {exc}") from exc

    def _read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise BlobStoreError(f"cannot read blob {key}: {exc}") from exc

    def _exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except OSError as exc:
            raise BlobStoreError(f"cannot reach the blob store: {exc}") from exc

    def _delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise BlobStoreError(f"cannot delete blob {key}: {exc}") from exc

    def keys(self) -> Iterator[str]:
        for path in self.root.glob("*/*.zst"):
            yield path.relative_to(self.root).as_posix()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
