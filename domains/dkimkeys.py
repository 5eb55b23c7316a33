"""DKIM key material through OpenSSL: the one module that makes, encrypts and opens the keys.

The `cryptography` package is not among the project's dependencies, so the `openssl` program
(as dkimpy's own `dknewkey` and mailstore.tls use it) does the work; no cryptography is written
here. A private key is stored as an encrypted PKCS#8 PEM (PBES2: PBKDF2-HMAC-SHA256 and
AES-256-CBC), its passphrase derived from settings.DKIM_KEY_SECRET, or from SECRET_KEY when that
is empty (SECRET_KEY_FALLBACKS still open keys stored under an earlier SECRET_KEY). The
passphrase reaches openssl through a pipe, never on its command line or in its environment.

The public half is the base64 DER SubjectPublicKeyInfo that a DKIM TXT record's p= carries."""

import base64
import os
import subprocess
import threading
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

OPENSSL = "openssl"
TIMEOUT = 60  # seconds: a 2048-bit key takes well under one on an idle core
_SALT = "mailsuite.domains.dkimkeys"


class DkimKeyError(RuntimeError):
    pass


@dataclass(frozen=True)
class NewKey:
    private_pem: str  # encrypted PKCS#8 PEM
    public_key: str  # base64 DER SubjectPublicKeyInfo
    bits: int


def _passphrases() -> list[str]:
    if settings.DKIM_KEY_SECRET:
        secrets = [settings.DKIM_KEY_SECRET]
    else:
        secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [
        salted_hmac(_SALT, "dkim private keys", secret=s, algorithm="sha256").hexdigest() for s in secrets
    ]


def _openssl(args: list[str], *, passphrase: str, stdin: bytes = b"") -> bytes:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, passphrase.encode() + b"\n")
        os.close(write_end)
        write_end = -1
        result = subprocess.run(  # noqa: S603 - fixed program, no shell
            [OPENSSL, *[a.replace("{fd}", str(read_end)) for a in args]],
            input=stdin,
            capture_output=True,
            pass_fds=(read_end,),
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DkimKeyError(f"openssl {args[0]} failed: {exc}") from exc
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    if result.returncode != 0:
        raise DkimKeyError(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def generate(bits: int | None = None) -> NewKey:
    """A new RSA key pair (settings.DKIM_KEY_BITS, 2048 by default), the private half encrypted."""
    bits = bits or settings.DKIM_KEY_BITS
    passphrase = _passphrases()[0]
    encrypted = _openssl(
        [
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            f"rsa_keygen_bits:{bits}",
            "-aes-256-cbc",
            "-pass",
            "fd:{fd}",
        ],
        passphrase=passphrase,
    )
    der = _openssl(
        ["pkey", "-passin", "fd:{fd}", "-pubout", "-outform", "DER"], passphrase=passphrase, stdin=encrypted
    )
    return NewKey(
        private_pem=encrypted.decode("ascii"), public_key=base64.b64encode(der).decode("ascii"), bits=bits
    )


def public_key_of(private_pem: str) -> str:
    """The p= value of a stored (encrypted) private key."""
    der = _with_any_passphrase(["pkey", "-passin", "fd:{fd}", "-pubout", "-outform", "DER"], private_pem)
    return base64.b64encode(der).decode("ascii")


def _with_any_passphrase(args: list[str], private_pem: str) -> bytes:
    last: DkimKeyError | None = None
    for passphrase in _passphrases():
        try:
            return _openssl(args, passphrase=passphrase, stdin=private_pem.encode("ascii"))
        except DkimKeyError as exc:
            last = exc
    assert last is not None
    raise last


_opened: dict[str, bytes] = {}
_opened_lock = threading.Lock()
_OPENED_MAX = 256


def open_private_key(private_pem: str) -> bytes:
    """The clear PKCS#8 PEM of a stored key, for dkimpy. Kept in this process's memory (as any
    signing MTA keeps its keys) so that a signature costs no openssl process."""
    with _opened_lock:
        clear = _opened.get(private_pem)
    if clear is not None:
        return clear
    clear = _with_any_passphrase(["pkey", "-passin", "fd:{fd}"], private_pem)
    with _opened_lock:
        if len(_opened) >= _OPENED_MAX:
            _opened.clear()
        _opened[private_pem] = clear
    return clear
