"""Where a workshop server can be reached: this machine's LAN addresses, whether its port is free,
and a TLS certificate for them.

Browsers give the camera and microphone only to secure contexts: `http://localhost` is one,
`http://192.168.1.20:8080` is not. `HTTPS=1 make run` serves TLS with a self-signed certificate
made here on first use (or the one named by CERT_FILE and KEY_FILE).
"""

import datetime
import ipaddress
import logging
import os
import socket
from pathlib import Path

import ifaddr
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger("network")
CERT_DAYS = 365


def lan_addresses():
    """IPv4 addresses of this machine other than loopback and link-local, from every network
    interface (ifaddr: the same on Linux, macOS and Windows)."""
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):  # IPv4; ifaddr gives IPv6 as a tuple
                address = ipaddress.ip_address(ip.ip)
                if not (address.is_loopback or address.is_link_local):
                    found.append(ip.ip)
    return list(dict.fromkeys(found))


def port_in_use(host, port):
    """An OSError if `port` cannot be listened on (someone already does), else None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        if os.name == "nt":
            # On Windows SO_REUSEADDR would let this probe bind over a live server, so ask for
            # the port to ourselves instead.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            # As the server's own socket does: a port left in TIME_WAIT by a server that just
            # stopped is free to use again.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            return err
    return None


def port_holder(port):
    """The program listening on TCP `port`, as "python3 -m common.run (pid 1234)", or None when
    it cannot be told (not Linux, or a process of another user)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for fields in (line.split() for line in lines):
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                command = (fd_dir.parent / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                return f"{shorten(command.decode(errors='replace'))} (pid {fd_dir.parent.name})"
        except OSError:
            continue  # gone meanwhile, or not ours to look at
    return None


def shorten(text, limit=70):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def certificate_names():
    return ["localhost", socket.gethostname(), "127.0.0.1", "::1", *lan_addresses()]


def covers(cert_path, names):
    """Whether the certificate at cert_path is still valid and names every one of `names`."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    listed = {str(n) for n in san.get_values_for_type(x509.IPAddress)}
    listed |= set(san.get_values_for_type(x509.DNSName))
    return all(str(ipaddress.ip_address(n)) in listed if is_ip(n) else n in listed for n in names)


def is_ip(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def self_signed_certificate(folder):
    """(cert path, key path) of a self-signed certificate for this machine's names, made (again)
    when missing, expiring, or not covering an address the machine has now."""
    folder.mkdir(exist_ok=True)
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    names = certificate_names()
    if cert_path.exists() and key_path.exists() and covers(cert_path, names):
        return cert_path, key_path
    log.info("making a self-signed certificate for %s", ", ".join(names))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "WebRTC tutorial (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = [
        x509.IPAddress(ipaddress.ip_address(n)) if is_ip(n) else x509.DNSName(n) for n in names
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
