"""TLS material for IMAP/POP3 (Dovecot) and SMTP (smtpd): configured paths in production, a
self-signed certificate generated on first use in development and tests."""

import ssl
import subprocess
from pathlib import Path


class TLSError(RuntimeError):
    pass


def ensure_certificate(cert_file: str | Path, key_file: str | Path, *, hostname: str = "localhost") -> None:
    """Create a self-signed certificate (RSA 2048, 10 years, SAN hostname/localhost/127.0.0.1)
    at the given paths unless both files exist already."""
    cert_file, key_file = Path(cert_file), Path(key_file)
    if cert_file.exists() and key_file.exists():
        return
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    san = f"subjectAltName=DNS:{hostname},DNS:localhost,IP:127.0.0.1"
    cmd = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-subj", f"/CN={hostname}", "-addext", san,
        "-keyout", str(key_file), "-out", str(cert_file),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise TLSError(f"openssl failed: {result.stderr.strip()}")
    key_file.chmod(0o600)


def server_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


def client_context_for(cert_file: str | Path) -> ssl.SSLContext:
    """A client context that trusts exactly this (self-signed) certificate: for tests and for
    the project's own services talking to its own servers."""
    ctx = ssl.create_default_context(cafile=str(cert_file))
    ctx.check_hostname = False
    return ctx
