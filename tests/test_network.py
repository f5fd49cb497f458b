"""Workshop networking: HTTPS with a self-signed certificate, and TURN credentials per member."""

import base64
import hashlib
import hmac
import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request

import socketio
from cryptography import x509

from common import network
from common.ice import turn_credentials
from tests.server import SELF_SIGNED

SECRET = "known-test-secret-4f1c"


def test_https_serves_the_page_and_signaling_over_tls(own_server, room):
    server = own_server(2, HTTPS=1, CERT_FILE="", KEY_FILE="")
    assert server.url.startswith("https://")
    with urllib.request.urlopen(server.url + "/", context=SELF_SIGNED) as response:
        assert b"Step 2" in response.read()
    pem = ssl.get_server_certificate(("127.0.0.1", server.port))
    names = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert "localhost" in names.value.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)}

    client = socketio.Client(reconnection=False, ssl_verify=False)
    client.connect(server.url, transports=["websocket"], wait_timeout=5)
    assert client.call("join", {"room": room, "name": "Ann"}, timeout=5)["ok"] is True
    client.disconnect()


def test_turn_credentials_follow_the_rest_scheme():
    username, credential = turn_credentials("s3cret", "member-1", ttl=600, now=1_000_000)
    assert username == "1000600:member-1"
    expected = hmac.new(b"s3cret", b"1000600:member-1", hashlib.sha1).digest()
    assert base64.b64decode(credential) == expected


def test_members_get_their_own_turn_credentials_and_never_the_secret(start_server, room):
    server = start_server(
        2,
        STUN_URLS="stun:127.0.0.1:3478",
        TURN_URLS="turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp",
        TURN_SECRET=SECRET,
        TURN_TTL=120,
    )
    acks = []
    for name in ("Ann", "Bob"):
        client = socketio.Client(reconnection=False)
        client.connect(server.url, transports=["websocket"], wait_timeout=5)
        acks.append(client.call("join", {"room": room, "name": name}, timeout=5))
        client.disconnect()

    for ack in acks:
        stun, turn = ack["iceServers"]
        assert stun == {"urls": ["stun:127.0.0.1:3478"]}
        assert turn["urls"] == [
            "turn:127.0.0.1:3478?transport=udp",
            "turn:127.0.0.1:3478?transport=tcp",
        ]
        expiry, member = turn["username"].split(":")
        assert member == ack["id"]
        assert 0 < int(expiry) - time.time() <= 120
        # An independent check with the known secret: the credential is its HMAC of the username.
        digest = hmac.new(SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
        assert turn["credential"] == base64.b64encode(digest).decode()
        assert SECRET not in repr(ack)
    assert acks[0]["iceServers"][1]["username"] != acks[1]["iceServers"][1]["username"]


def test_lan_addresses_are_this_machines_ipv4_addresses_but_loopback():
    addresses = network.lan_addresses()
    for address in addresses:
        parsed = ipaddress.ip_address(address)
        assert parsed.version == 4 and not parsed.is_loopback and not parsed.is_link_local
    # The same as `ip` says, where it is (on Linux): ifaddr reads the interfaces, not its output.
    if shutil.which("ip"):
        output = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True)
        listed = re.findall(r"inet (\d+\.\d+\.\d+\.\d+)", output.stdout)
        assert sorted(addresses) == sorted(
            a for a in set(listed) if not ipaddress.ip_address(a).is_loopback
        )


def test_a_port_someone_listens_on_is_in_use_and_a_free_one_is_not():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert isinstance(network.port_in_use("127.0.0.1", port), OSError)
    assert network.port_in_use("127.0.0.1", port) is None
