"""The Archive's blob store: message bodies by the SHA-256 of their raw bytes, zstd-compressed,
one copy shared by every archive that holds them.

The face is `BlobStore` (below) and its one error, `BlobStoreError`; the rest of the code calls
`blob_store()` and never touches files or sockets itself. The backend is the dotted path in
`settings.ARCHIVE_BLOB_STORE`:

- `archiving.blobstore.filesystem.FileSystemBlobStore` (default): files under
  `settings.ARCHIVE_BLOB_DIR`, written durably (temp file, fsync, rename, fsync of the directory).
- An S3-compatible backend (MinIO, Ceph, AWS) is one more module, e.g.
  `archiving/blobstore/s3.py` with a class `S3BlobStore(BlobStore)` built on boto3: `put` is a
  `PutObject` of the compressed bytes under the key `ab/<sha256>.zst` (S3 acknowledges only
  once the object is durable; skip the upload when `HeadObject` finds the key), `get` a
  `GetObject`, `delete` a `DeleteObject`, `keys` a paginated `ListObjectsV2`; botocore errors
  become `BlobStoreError`. Add its settings (endpoint, bucket, credentials) beside
  ARCHIVE_BLOB_DIR and point ARCHIVE_BLOB_STORE at the class. Nothing else changes.

Compression and hashing live here, not in the backends, so every backend stores the same bytes.
"""

import hashlib
from collections.abc import Iterator
from functools import lru_cache

import zstandard
from django.conf import settings
from django.utils.module_loading import import_string

ZSTD_LEVEL = 3


class BlobStoreError(Exception):
    """The store cannot be reached or written, or a stored object is missing or unreadable."""


class BlobStore:
    """A backend stores opaque compressed objects by key; this base class does the rest."""

    # -- a backend implements these four ------------------------------------------------------
    def _write(self, key: str, data: bytes) -> None:  # durable when it returns; idempotent
        raise NotImplementedError

    def _read(self, key: str) -> bytes:
        raise NotImplementedError

    def _exists(self, key: str) -> bool:
        raise NotImplementedError

    def _delete(self, key: str) -> None:  # no error when absent
        raise NotImplementedError

    def keys(self) -> Iterator[str]:
        raise NotImplementedError

    def _check(self) -> None:  # raise BlobStoreError when the store cannot take writes now
        return None

    # -- the face ------------------------------------------------------------------------------
    @staticmethod
    def key_for(sha256: str) -> str:
        return f"{sha256[:2]}/{sha256}.zst"

    @staticmethod
    def compress(raw: bytes) -> bytes:
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)

    def put(self, raw: bytes) -> tuple[str, int]:
        """Store `raw` (once, whoever else stored it before): (its SHA-256, compressed size)."""
        sha256 = hashlib.sha256(raw).hexdigest()
        compressed = self.compress(raw)
        self.ensure(sha256, compressed)
        return sha256, len(compressed)

    def ensure(self, sha256: str, compressed: bytes) -> None:
        """Store `compressed` (from `compress`) under `sha256` unless the object is there."""
        key = self.key_for(sha256)
        if not self._exists(key):
            self._write(key, compressed)

    def has(self, sha256: str) -> bool:
        return self._exists(self.key_for(sha256))

    def check(self) -> None:
        """Raise BlobStoreError unless the store can take writes (the MX answers 4xx then)."""
        self._check()

    def get(self, sha256: str) -> bytes:
        """The raw bytes: from the store, or, for a blob journaled in the last minute and not
        yet moved there, from the journaling outbox (archiving.outbox)."""
        try:
            stored = self._read(self.key_for(sha256))
        except BlobStoreError:
            stored = _pending(sha256)
            if stored is None:
                raise
        try:
            return zstandard.ZstdDecompressor().decompress(stored)
        except zstandard.ZstdError as exc:
            raise BlobStoreError(f"blob {sha256}: not a valid zstd object ({exc})") from exc

    def delete(self, sha256: str) -> None:
        self._delete(self.key_for(sha256))


def _pending(sha256: str) -> bytes | None:
    from archiving.models import ArchiveBlobPending

    data = ArchiveBlobPending.objects.filter(blob_id=sha256).values_list("data", flat=True).first()
    return bytes(data) if data is not None else None


@lru_cache(maxsize=4)
def _build(path: str, root: str) -> BlobStore:
    return import_string(path)(root)


def blob_store() -> BlobStore:
    return _build(settings.ARCHIVE_BLOB_STORE, str(settings.ARCHIVE_BLOB_DIR))
