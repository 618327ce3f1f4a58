"""A TLS front for a loopback service, for make test: every local endpoint is plain HTTP, so without
this no test would ever run the functions' HTTPS client (rustls on ring), the one production uses.

    tls_proxy.py LISTEN_PORT TARGET_PORT CA_FILE

Makes a throwaway certificate for `localhost` (written to CA_FILE, PEM), accepts TLS on
127.0.0.1:LISTEN_PORT and pipes each connection's plaintext to 127.0.0.1:TARGET_PORT.
"""

import asyncio
import datetime
import ssl
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(ca_file):
    """A one-run CA (its certificate to CA_FILE) and a `localhost` server certificate it signs."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, public_key, signing_key, is_ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if not is_ca:
            builder = builder.add_extension(
                # The name only, not 127.0.0.1: a test connects by address to see it refused.
                x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("keyhive test CA", "keyhive test CA", ca_key.public_key(), ca_key, True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = build("localhost", "keyhive test CA", server_key.public_key(), ca_key, False)
    with open(ca_file, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    # The keys never leave this process: temporary files for the ssl module, removed at once.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.NamedTemporaryFile(suffix=".pem") as key_file, tempfile.NamedTemporaryFile(suffix=".pem") as chain:
        key_file.write(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_file.flush()
        chain.write(server.public_bytes(serialization.Encoding.PEM))
        chain.flush()
        context.load_cert_chain(chain.name, key_file.name)
    return context


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(listen_port, target_port, ca_file):
    context = make_certificate(ca_file)

    async def serve(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(serve, "127.0.0.1", listen_port, ssl=context)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
