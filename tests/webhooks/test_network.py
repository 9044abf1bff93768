"""app.webhooks.network: the SSRF rules (URLs, addresses), and the client against real local
servers (plain HTTP and TLS) in the test process.

No DNS: every name goes through a `FakeDns` table. The servers listen on 127.0.0.1 only, so the
tests that reach them run with `allow_private=True`, except the ones proving that a loopback
address is refused (and that the server then saw nothing).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.webhooks import network
from app.webhooks.network import Answer, UnsafeUrl, check_url, post, refusal, unwrap

PUBLIC = "93.184.215.14"
DRIP_PAUSE = 0.3  # seconds between two bytes of a dripping answer
BIG_BODY = b"0123456789" * 500  # 5000 bytes


class FakeDns:
    """A resolver from a table, recording each question; an unknown name does not resolve."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.table[host])


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should not have been resolved")


# --- A real server ----------------------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


class Server:
    """ThreadingHTTPServer on 127.0.0.1:<free port>, answering by path, recording every request."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[Seen] = []
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.seen.append(Seen(self.path, dict(self.headers.items()), body))
                try:
                    server.answer(self)
                except OSError:  # the client hung up (as it does at its deadline)
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path
        if path == "/big":
            self.reply(h, 200, BIG_BODY)
        elif path == "/redirect":
            self.reply(h, 302, b"", Location=f"http://127.0.0.1:{self.port}/target")
        elif path == "/busy":
            self.reply(h, 503, b"busy", **{"Retry-After": "120"})
        elif path == "/drip-body":
            h.send_response(200)
            h.send_header("Content-Length", "100")
            h.end_headers()
            h.wfile.flush()
            for _ in range(100):
                if self.stop.wait(DRIP_PAUSE):
                    return
                h.wfile.write(b"x")
                h.wfile.flush()
        elif path == "/drip-head":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                if self.stop.wait(DRIP_PAUSE):
                    return
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
        else:
            self.reply(h, 200, b"ok")

    @staticmethod
    def reply(h: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts only the test CA


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    """A test CA and a certificate it signed for `hooks.test` (and nothing else)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "network test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )
    return Tls(server=server_context, client=client_context)


@pytest.fixture
def tls_server(tls: Tls) -> Iterator[Server]:
    s = Server(tls=tls.server)
    yield s
    s.close()


def send(
    url: str,
    *,
    dns: network.Resolver = no_dns,
    allow_private: bool = True,
    deadline: float = 15.0,
    verify: ssl.SSLContext | bool = True,
) -> Answer:
    return post(
        url,
        body=b'{"type":"test"}',
        headers={"Content-Type": "application/json"},
        allow_private=allow_private,
        resolver=dns,
        deadline=deadline,
        verify=verify,
    )


# --- Addresses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("100.100.100.200", "carrier-grade NAT"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("192.0.0.9", "reserved"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.1", "multicast"),
        ("239.1.2.3", "multicast"),
        ("ff0e::1", "multicast"),
        ("fd00::1", "private"),
        ("fd00:ec2::254", "private"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fec0::1", "reserved"),
        ("2001:db8::1", "documentation"),
        ("2001::1", "reserved"),  # Teredo
        ("4000::1", "reserved"),  # outside 2000::/3
        # IPv6 forms of an IPv4 address are judged on the IPv4 address.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata)"),
        ("64:ff9b:1::a00:1", "private"),  # local-use NAT64
        ("2002:7f00:1::", "loopback"),  # 6to4
        ("2002:a9fe:a9fe::1", "link-local (cloud metadata)"),
        ("example.com", "not an IP address"),
        ("", "not an IP address"),
    ],
)
def test_refusal_names_why_an_address_is_refused(address: str, reason: str) -> None:
    assert refusal(address) == reason


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC,
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:82a::200e",
        "::ffff:93.184.215.14",
        "64:ff9b::5db8:d70e",
        "2002:5db8:d70e::1",
    ],
)
def test_refusal_lets_globally_routable_unicast_pass(address: str) -> None:
    assert refusal(address) is None


@pytest.mark.parametrize(
    ("wrapped", "inside"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::7f00:1", "127.0.0.1"),
        ("2002:7f00:1::", "127.0.0.1"),
        ("2002:5db8:d70e:1::5", PUBLIC),
        ("64:ff9b::7f00:1", "127.0.0.1"),
        ("64:ff9b:1::a00:1", "10.0.0.1"),
        ("::1", "::1"),
        ("::", "::"),
        ("2606:4700:4700::1111", "2606:4700:4700::1111"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_unwrap_finds_the_ipv4_address_inside(wrapped: str, inside: str) -> None:
    assert unwrap(ipaddress.ip_address(wrapped)) == ipaddress.ip_address(inside)


def test_system_resolver_answers_an_ip_literal_without_dns() -> None:
    assert network.system_resolver("127.0.0.1", 443) == ["127.0.0.1"]


def test_system_resolver_turns_an_invalid_name_into_a_resolution_error() -> None:
    with pytest.raises(socket.gaierror):
        network.system_resolver("a" * 64 + ".example", 443)


# --- URLs ---------------------------------------------------------------------------------------------

DNS = {
    "hooks.example.com": [PUBLIC],
    "mixed.example.com": [PUBLIC, "10.1.2.3"],
    "rebind.example.com": ["2606:4700:4700::1111", "::ffff:169.254.169.254"],
}


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example.com/x", "https://"),
        ("ftp://hooks.example.com/x", "https://"),
        ("hooks.example.com/x", "https://"),
        ("https://localhost/x", "this server"),
        ("https://LOCALHOST./x", "this server"),
        ("https://api.localhost/x", "this server"),
        ("https://10.0.0.1/x", "10.0.0.1 is a private address"),
        ("https://100.100.100.200/x", "carrier-grade NAT"),
        ("https://169.254.169.254/latest", "cloud metadata"),
        ("https://[::ffff:127.0.0.1]/x", "loopback address (it stands for 127.0.0.1)"),
        ("https://[64:ff9b::7f00:1]/x", "loopback"),
        ("https://[2002:7f00:1::]/x", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://[fd00::1]/x", "private"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://0.0.0.0/x", "unspecified"),
        ("https://mixed.example.com/x", "mixed.example.com resolves to 10.1.2.3, a private"),
        ("https://rebind.example.com/x", "cloud metadata"),
        ("https://nowhere.example.com/x", "does not resolve"),
        ("https://user:pass@hooks.example.com/x", "user name or password"),
        ("https://hooks.example.com:0/x", "port"),
        ("https://hooks.example.com:65536/x", "port"),
        ("https:///x", "no host"),
        ("https://hooks example.com/x", "not a valid host name"),
        ("https://hooks.example.com/" + "a" * 2000, "longer than 2000"),
    ],
)
def test_check_url_refuses_with_a_sentence_the_user_can_act_on(url: str, words: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url, allow_private=False, resolver=FakeDns(DNS))
    assert words in str(refused.value)


def test_a_public_https_url_passes() -> None:
    dns = FakeDns(DNS)
    check_url("https://hooks.example.com/x", allow_private=False, resolver=dns)
    check_url("https://hooks.example.com:8443/x?a=1", allow_private=False, resolver=dns)
    check_url(f"https://{PUBLIC}/x", allow_private=False, resolver=no_dns)
    check_url("https://[2606:4700:4700::1111]/x", allow_private=False, resolver=no_dns)
    assert dns.calls == [("hooks.example.com", 443), ("hooks.example.com", 8443)]


def test_localhost_is_refused_without_asking_dns() -> None:
    with pytest.raises(UnsafeUrl):
        check_url("https://localhost/x", allow_private=False, resolver=no_dns)


def test_an_empty_dns_answer_does_not_resolve() -> None:
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        check_url("https://hooks.example.com/x", allow_private=False, resolver=lambda h, p: [])


def test_allow_private_allows_http_and_any_address_without_resolving() -> None:
    for url in ("http://127.0.0.1:9/x", "http://localhost:8000/", "https://10.0.0.1/x"):
        check_url(url, allow_private=True, resolver=no_dns)
    with pytest.raises(UnsafeUrl):  # still a URL, still http(s), still no credentials in it
        check_url("ftp://127.0.0.1/x", allow_private=True, resolver=no_dns)
    with pytest.raises(UnsafeUrl):
        check_url("http://u:p@127.0.0.1/x", allow_private=True, resolver=no_dns)


# --- Delivery: the same rules again, on the address actually connected to ---------------------------


def test_a_name_that_resolves_to_loopback_only_at_delivery_is_refused(server: Server) -> None:
    url = f"https://hooks.example.com:{server.port}/x"
    check_url(url, allow_private=False, resolver=FakeDns({"hooks.example.com": [PUBLIC]}))

    rebound = FakeDns({"hooks.example.com": ["127.0.0.1"]})
    answer = send(url, dns=rebound, allow_private=False)

    assert answer.status is None
    assert answer.error is not None and answer.error.startswith("refused"), answer.error
    assert "127.0.0.1, a loopback address" in answer.error
    assert rebound.calls == [("hooks.example.com", server.port)]  # resolved once
    assert server.seen == []


def test_one_private_address_among_public_ones_is_refused_at_delivery(server: Server) -> None:
    dns = FakeDns({"hooks.example.com": [PUBLIC, "127.0.0.1"]})
    answer = send(f"https://hooks.example.com:{server.port}/", dns=dns, allow_private=False)
    assert answer.error is not None and answer.error.startswith("refused")
    assert server.seen == []


def test_delivery_refuses_what_check_url_refuses(server: Server) -> None:
    for url in (
        f"http://127.0.0.1:{server.port}/",  # http
        f"https://127.0.0.1:{server.port}/",  # loopback literal
        f"https://[::ffff:127.0.0.1]:{server.port}/",
        f"https://localhost:{server.port}/",
    ):
        answer = send(url, allow_private=False)
        assert answer.status is None
        assert answer.error is not None and answer.error.startswith("refused: "), answer.error
    assert server.seen == []


def test_a_resolver_answer_that_is_not_an_ip_address_is_never_connected_to(server: Server) -> None:
    dns = FakeDns({"hooks.test": ["localhost"]})
    answer = send(f"http://hooks.test:{server.port}/", dns=dns)
    assert answer.error is not None and "not an IP address" in answer.error
    assert server.seen == []


def test_it_connects_to_the_resolved_address_with_the_urls_host(server: Server) -> None:
    dns = FakeDns({"hooks.test": ["127.0.0.1"]})
    answer = send(f"http://hooks.test:{server.port}/hook?x=1", dns=dns)
    assert answer == Answer(
        status=200, excerpt="ok", duration_ms=answer.duration_ms, retry_after=None, error=None
    )
    assert dns.calls == [("hooks.test", server.port)]
    [seen] = server.seen
    assert seen.path == "/hook?x=1"
    assert seen.headers["Host"] == f"hooks.test:{server.port}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.body == b'{"type":"test"}'


def test_proxies_from_the_environment_are_ignored(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = "http://127.0.0.1:1"
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer = send(f"http://hooks.test:{server.port}/", dns=FakeDns({"hooks.test": ["127.0.0.1"]}))
    assert (answer.status, answer.error) == (200, None)
    assert len(server.seen) == 1


def test_only_the_first_kilobyte_of_the_answer_is_kept(server: Server) -> None:
    answer = send(f"http://127.0.0.1:{server.port}/big")
    assert answer.status == 200
    assert answer.error is None
    assert answer.excerpt == BIG_BODY[:1024].decode()
    assert len(answer.excerpt.encode()) == 1024


def test_a_redirect_is_an_answer_not_followed(server: Server) -> None:
    answer = send(f"http://127.0.0.1:{server.port}/redirect")
    assert (answer.status, answer.error) == (302, None)
    assert [seen.path for seen in server.seen] == ["/redirect"]  # /target received nothing


def test_retry_after_in_seconds(server: Server) -> None:
    answer = send(f"http://127.0.0.1:{server.port}/busy")
    assert (answer.status, answer.retry_after, answer.excerpt) == (503, 120.0, "busy")


def test_retry_after_as_an_http_date() -> None:
    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    parse = network.parse_retry_after
    assert parse("Mon, 02 Mar 2026 10:02:00 GMT", now) == 120.0
    assert parse("Mon, 02 Mar 2026 09:00:00 GMT", now) == 0.0  # already past
    assert parse(" 30 ", now) == 30.0
    assert parse("soon", now) is None
    assert parse("-5", now) is None
    assert parse(None, now) is None


def test_a_body_dripping_one_byte_at_a_time_is_cut_at_the_deadline(server: Server) -> None:
    answer = send(f"http://127.0.0.1:{server.port}/drip-body", deadline=1.0)
    assert answer.error == "deadline of 1 s passed"
    # The status line did arrive, the body did not, in time: no answer, so no delivery.
    assert answer.status is None
    assert 900 <= answer.duration_ms < 2000, answer.duration_ms
    assert len(answer.excerpt) < 5


def test_a_status_line_dripping_one_byte_at_a_time_is_cut_at_the_deadline(server: Server) -> None:
    answer = send(f"http://127.0.0.1:{server.port}/drip-head", deadline=1.0)
    assert answer.status is None
    assert answer.error == "deadline of 1 s passed"
    assert 900 <= answer.duration_ms < 2000, answer.duration_ms


def test_a_closed_port_is_a_connection_failure() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, and that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answer = send(f"http://127.0.0.1:{port}/")
    assert answer.status is None
    assert answer.error is not None and answer.error.startswith("connection failed: "), answer.error


def test_a_name_that_no_longer_resolves_is_a_connection_failure() -> None:
    answer = send("https://gone.example.com/", dns=FakeDns({}), allow_private=False)
    assert answer.status is None
    assert answer.error is not None
    assert answer.error.startswith("connection failed: gone.example.com does not resolve")


# --- TLS: the connection goes to the checked IP, the certificate is checked against the name -------


def test_tls_still_verifies_the_host_name(tls: Tls, tls_server: Server) -> None:
    dns = FakeDns({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})

    good = send(f"https://hooks.test:{tls_server.port}/", dns=dns, verify=tls.client)
    assert (good.status, good.excerpt, good.error) == (200, "ok", None)

    wrong = send(f"https://other.test:{tls_server.port}/", dns=dns, verify=tls.client)
    assert wrong.status is None
    assert wrong.error is not None and wrong.error.startswith("TLS: "), wrong.error
    assert "certificate" in wrong.error and "other.test" in wrong.error

    untrusted = send(f"https://hooks.test:{tls_server.port}/", dns=dns)  # the public CAs only
    assert untrusted.error is not None and untrusted.error.startswith("TLS: ")

    assert [seen.headers["Host"] for seen in tls_server.seen] == [f"hooks.test:{tls_server.port}"]
