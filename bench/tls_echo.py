"""Baseline (b): a TLS 1.3 echo server on the stdlib ``ssl`` module, for handshake cost.

It is threaded like the chat server (one thread per connection) and uses an RSA-3072
certificate, the same key size as the chat's long-term key, so the comparison is of the
protocols and their implementations, not of key sizes. The certificate is self-signed and made
in the run (``make_cert``) with the ``cryptography`` package.

Run standalone (the bench starts it as a subprocess to read its CPU from /proc)::

    python -m bench.tls_echo --cert c.pem --key k.pem --port 9200 --max-seconds 600
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def make_cert(directory: Path, bits: int = 3072) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost``/127.0.0.1; returns (cert, key) paths."""
    cert, key = directory / "tls_cert.pem", directory / "tls_key.pem"
    _make_cert_cryptography(cert, key, bits)
    key.chmod(0o600)
    return cert, key


def _make_cert_cryptography(cert_path: Path, key_path: Path, bits: int) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.3 only, the stdlib defaults otherwise."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    return ctx


def client_context(cafile: Path) -> ssl.SSLContext:
    """TLS 1.3 only, trusting only the run's own certificate (the analogue of a pinned key)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cafile)
    return ctx


def _serve_one(ctx: ssl.SSLContext, conn: socket.socket) -> None:
    conn.settimeout(30)
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            while data := tls.recv(65536):
                tls.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def serve(ctx: ssl.SSLContext, listener: socket.socket, stop: threading.Event) -> None:
    """Accept until ``stop`` is set or the listener closes; one thread per connection."""
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_serve_one, args=(ctx, conn), daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """Serve on 127.0.0.1 until ``--max-seconds`` have passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    listener = socket.create_server(("127.0.0.1", args.port), backlog=1024)
    stop = threading.Event()
    threading.Thread(
        target=serve, args=(server_context(args.cert, args.key), listener, stop), daemon=True
    ).start()
    print(f"listening 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    time.sleep(args.max_seconds)
    stop.set()
    listener.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
