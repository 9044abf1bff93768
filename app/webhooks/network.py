"""The only way the server makes outbound HTTP for webhooks, with the SSRF door closed (SPEC §4 Events).

A webhook URL is typed by a user, so without care it is a way to make the server reach what only
the server can reach: its own admin ports, the database, the cloud metadata service at
169.254.169.254, the private network behind it. Hence, unless `TRACKER_WEBHOOK_ALLOW_PRIVATE=true`
(development and tests):

* the URL must be `https` (no user info, a host, a port 1-65535, at most 2000 characters);
* every address its host resolves to must be globally routable unicast, judged on the IPv4 address
  an IPv6 form carries when it carries one (IPv4-mapped, IPv4-compatible, 6to4, NAT64), because
  `::ffff:127.0.0.1` or `64:ff9b::a9fe:a9fe` reach the same machine as the IPv4 address inside;
* this is checked when the URL is saved (`check_url`) and again at each delivery (`post`), because
  a name's DNS answer can change between the two (DNS rebinding): at delivery the host is resolved
  ONCE, by the connection itself (`_GuardedBackend`), and the connection goes to the very address
  that was checked, never to a name resolved a second time;
* no proxy from the environment is used, and redirects are not followed (a 3xx is an answer like
  any other), so nothing but the checked address is ever contacted.

TLS still verifies the URL's host name: only the TCP connection goes to the checked IP, the TLS
handshake is given the original name for SNI and certificate checks.

Each attempt has one total deadline (15 s by default) covering resolution, connect, TLS, sending
and reading, so a server that answers one byte a second cannot hold a worker; at most
`excerpt_bytes` (1 KB) of the answer is kept.

The resolver is injectable so that tests (and the app's tests) run without DNS.
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

import httpcore
import httpx

Resolver: TypeAlias = Callable[[str, int], list[str]]
"""(host, port) -> the IP addresses (as strings) the host resolves to; raises OSError or answers
an empty list when it does not resolve."""

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH: Final = 2000
# What an (IDNA-encoded, lowercased) host name may contain; httpx would percent-encode the rest.
_HOST_NAME: Final = re.compile(r"[a-z0-9_.-]+")
PUBLIC_ONLY: Final = "webhooks go only to public addresses"

# Reasons an address is refused, most specific network first (the first match wins). Written out
# rather than left to `ipaddress`'s `is_global`, whose answers changed between Python versions
# (3.11 calls multicast, 192.0.0.0/24 and fec0::/10 "global").
_IPV4_REFUSED: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = tuple(
    (ipaddress.IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "unspecified"),  # "this network"; 0.0.0.0 reaches the local host on Linux
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),  # also Alibaba's metadata, 100.100.100.200
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata)"),  # 169.254.169.254
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # the deprecated 6to4 relay anycast
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_IPV6_REFUSED: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = tuple(
    (ipaddress.IPv6Network(network), reason)
    for network, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "reserved"),  # discard-only
        ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo included
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "private"),  # unique local, fd00::/8 included (AWS metadata: fd00:ec2::254)
        ("fe80::/10", "link-local"),
        ("fec0::/10", "reserved"),  # the deprecated site-local
        ("ff00::/8", "multicast"),
    )
)
# The only IPv6 unicast space allocated for the Internet; the rest is reserved.
_IPV6_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")


class UnsafeUrl(ValueError):
    """A webhook URL that must not be used; `str(exc)` is a sentence the user can act on."""


class _Refused(httpcore.ConnectError):
    """Raised inside the connection when the host resolves to an address we do not connect to.

    A ConnectError, so that httpcore and httpx treat it as a failed connect (and close everything);
    `post` finds it in the exception chain and answers "refused: ..."."""


# --- Addresses ------------------------------------------------------------------------------------


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from `socket.getaddrinfo`, deduplicated, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except UnicodeError as exc:  # the idna codec refuses e.g. a label longer than 63 characters
        raise socket.gaierror(socket.EAI_NONAME, f"not a valid host name ({exc})") from exc
    found: dict[str, None] = {}
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            found[str(sockaddr[0])] = None
    return list(found)


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for, if it stands for one; else the address itself.

    `::ffff:a.b.c.d` (IPv4-mapped), `::a.b.c.d` (IPv4-compatible, deprecated), `2002:aabb:ccdd::/48`
    (6to4) and `64:ff9b::a.b.c.d` / `64:ff9b:1::/48` (NAT64) all reach, in the end, the IPv4
    address they embed, so that is the address to judge. For the local-use NAT64 prefix
    64:ff9b:1::/48 the IPv4 address is taken from the last 32 bits, as with a /96 prefix (the
    usual deployment). `::` and `::1` are left alone: they are not IPv4 addresses in disguise.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    last_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64 or address in _NAT64_LOCAL:
        return last_32_bits
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return last_32_bits
    return address


def refusal(address: str) -> str | None:
    """None when `address` is globally routable unicast (after `unwrap`), else why it is refused:
    "loopback", "private", "link-local (cloud metadata)", "carrier-grade NAT", "multicast",
    "reserved", "unspecified", "documentation", "benchmarking", "broadcast", "link-local",
    "non-global", or "not an IP address"."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    ip = unwrap(parsed)
    if isinstance(ip, ipaddress.IPv4Address):
        for network4, reason in _IPV4_REFUSED:
            if ip in network4:
                return reason
    else:
        for network6, reason in _IPV6_REFUSED:
            if ip in network6:
                return reason
        if ip not in _IPV6_GLOBAL_UNICAST:
            return "reserved"
    # Belt and braces: anything the tables missed that Python knows is not global.
    return None if ip.is_global else "non-global"


def _kind(address: str, reason: str) -> str:
    """`a private address`, naming the embedded IPv4 address when there is one."""
    if reason == "not an IP address":
        return reason
    article = "an" if reason[0] in "aeiou" else "a"
    parsed = ipaddress.ip_address(address)
    embedded = f" (it stands for {unwrap(parsed)})" if unwrap(parsed) != parsed else ""
    return f"{article} {reason} address{embedded}"


def _literal(host: str) -> str | None:
    """The host as an IP address string when it is an IP literal (`[::1]` or `::1`), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _addresses(host: str, port: int, resolver: Resolver) -> list[str]:
    """The addresses to check and connect to: the literal itself, or the resolver's answer.

    Raises OSError when the name does not resolve (including an empty answer)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    found = list(dict.fromkeys(resolver(host, port)))
    if not found:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    return found


def _first_refused(host: str, addresses: Iterable[str]) -> str | None:
    """The sentence refusing the first address that fails `refusal()`, or None if all pass."""
    for address in addresses:
        reason = refusal(address)
        if reason is None:
            continue
        if _literal(host) is not None:
            return f"{host.strip('[]')} is {_kind(address, reason)}: {PUBLIC_ONLY}"
        return f"The host {host} resolves to {address}, {_kind(address, reason)}: {PUBLIC_ONLY}"
    return None


# --- URLs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    host: str  # ASCII (IDNA), lowercase, IPv6 literals without brackets
    port: int


def _target(url: str, *, allow_private: bool) -> _Target:
    """Everything about the URL that needs no DNS; raises UnsafeUrl.

    Parsed with httpx's own parser, so the host checked is the host httpx will connect to."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"The URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeUrl(f"This is not a valid URL: {exc}") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in schemes:
        got = f"{parsed.scheme}://" if parsed.scheme else "no scheme"
        raise UnsafeUrl(f"A webhook URL must start with https:// (got {got})")
    if parsed.userinfo:
        raise UnsafeUrl(
            "A webhook URL must not contain a user name or password: "
            "authenticate the request with its signature instead"
        )
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise UnsafeUrl("The URL has no host")
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise UnsafeUrl(f"The port must be between 1 and 65535 (got {port})")
    if _literal(host) is None and not _HOST_NAME.fullmatch(host):
        raise UnsafeUrl(f"{host} is not a valid host name")
    name = host.rstrip(".")
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        raise UnsafeUrl(f"{host} is this server itself: {PUBLIC_ONLY}")
    return _Target(host=host, port=port)


def check_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
    """Raise UnsafeUrl unless `url` may receive webhooks (when it is saved).

    Unless `allow_private`: the URL must be https, an IP-literal host must be globally routable
    unicast, and a name must resolve, with EVERY address globally routable unicast (one private
    address among public ones is enough to refuse: the client could pick it). With `allow_private`
    (development and tests) http is allowed too and the host is not resolved.
    """
    target = _target(url, allow_private=allow_private)
    if allow_private:
        return
    try:
        addresses = _addresses(target.host, target.port, resolver)
    except OSError as exc:
        raise UnsafeUrl(
            f"The host {target.host} does not resolve ({exc.strerror or exc}): "
            "check the name, it must have a public DNS record"
        ) from exc
    refused = _first_refused(target.host, addresses)
    if refused is not None:
        raise UnsafeUrl(refused)


# --- The connection: resolve once, check, connect to what was checked -------------------------------


def _remaining(deadline_at: float, given: float | None, timeout: type[Exception]) -> float:
    """The timeout for the next operation: what is left of the deadline, or less if asked."""
    left = deadline_at - time.monotonic()
    if left <= 0:
        raise timeout("the deadline passed")
    return left if given is None else min(given, left)


_WRITE_SLICE: Final = 16 * 1024


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose every operation ends by the attempt's deadline, not only each one alone.

    httpcore's timeouts bound each read: a server that sends one byte a second never trips them.
    Here each read, write and TLS handshake gets at most what is left of the total deadline, and
    once it has passed the next operation raises at once."""

    def __init__(self, inner: httpcore.NetworkStream, deadline_at: float) -> None:
        self._inner = inner
        self._deadline_at = deadline_at

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        left = _remaining(self._deadline_at, timeout, httpcore.ReadTimeout)
        return self._inner.read(max_bytes, timeout=left)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # In slices: the inner write gives EACH partial send the full timeout.
        for start in range(0, len(buffer), _WRITE_SLICE):
            left = _remaining(self._deadline_at, timeout, httpcore.WriteTimeout)
            self._inner.write(buffer[start : start + _WRITE_SLICE], timeout=left)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # `server_hostname` is the URL's host (httpcore passes it), not the IP connected to: the
        # certificate is still checked against the name the user gave.
        left = _remaining(self._deadline_at, timeout, httpcore.ConnectTimeout)
        tls = self._inner.start_tls(ssl_context, server_hostname=server_hostname, timeout=left)
        return _DeadlineStream(tls, self._deadline_at)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _resolve_within(resolver: Resolver, host: str, port: int, deadline_at: float) -> list[str]:
    """`_addresses`, bounded by the deadline: getaddrinfo has no timeout of its own, so it runs in
    a daemon thread that is abandoned (it ends when the OS resolver gives up) if it is too slow."""
    outcome: list[list[str] | BaseException] = []

    def work() -> None:
        try:
            outcome.append(_addresses(host, port, resolver))
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)

    worker = threading.Thread(target=work, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(_remaining(deadline_at, None, httpcore.ConnectTimeout))
    if not outcome:
        raise httpcore.ConnectTimeout(f"resolving {host} took longer than the deadline")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend for one attempt: resolves the host once, refuses it unless every
    address is globally routable unicast (unless `allow_private`), connects to a checked address
    itself, and wraps the stream in the attempt's deadline."""

    def __init__(self, *, resolver: Resolver, allow_private: bool, deadline_at: float) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._deadline_at = deadline_at
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve_within(self._resolver, host, port, self._deadline_at)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve ({exc.strerror or exc})") from exc
        for address in addresses:
            # Connect only to IP addresses: a name here would be resolved again, unchecked.
            if _literal(address) is None:
                raise _Refused(f"The host {host} resolves to {address!r}, not an IP address")
        if not self._allow_private:
            refused = _first_refused(host, addresses)
            if refused is not None:
                raise _Refused(refused)
        failures: list[str] = []
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    timeout=_remaining(self._deadline_at, timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # try the next address, as a browser would
                failures.append(f"{address} port {port}: {exc}")
                continue
            return _DeadlineStream(stream, self._deadline_at)
        raise httpcore.ConnectError("; ".join(failures))


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """The verifying context, built once per process: loading the CA bundle costs ~20 ms of CPU
    (under the GIL), more than the rest of a local delivery. An SSLContext is safe to share."""
    return httpx.create_ssl_context(verify=True, trust_env=False)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport (request/response conversion, exception mapping), with a connection
    pool that connects through `_GuardedBackend`. httpx has no public knob for the network
    backend, so the pool it builds is replaced by an equivalent one that has it."""

    def __init__(self, *, backend: _GuardedBackend, verify: ssl.SSLContext | bool) -> None:
        ssl_context = (
            _default_ssl_context()
            if verify is True
            else httpx.create_ssl_context(verify=verify, trust_env=False)
        )
        super().__init__(verify=ssl_context, trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=1,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )


# --- One attempt ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one delivery attempt got back.

    `error` is None when the answer (its status, headers and excerpt) arrived whole within the
    deadline; otherwise it says why not, and `status` and `retry_after` are None even if the status
    line had arrived: a 200 whose body is still dripping at the deadline is not a delivery (the
    receiver must answer in time), so the caller can go by `status` alone. `excerpt` keeps what
    did arrive, for the attempt's record.
    """

    status: int | None  # the HTTP status, None if no answer
    excerpt: str  # at most the first `excerpt_bytes` of the body, decoded utf-8 (errors replaced)
    duration_ms: int
    retry_after: float | None  # seconds, from a Retry-After header (delta-seconds or HTTP-date)
    error: str | None  # "refused: ...", "deadline of 15 s passed", "connection failed: ", "TLS: "


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds ("120") or an HTTP-date (relative
    to `now`, never negative); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" in the date: UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes (httpx wraps httpcore's exception, which wraps the OS's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _failure(exc: httpx.HTTPError, deadline: float) -> str:
    """The `Answer.error` sentence for an attempt that failed."""
    chain = list(_chain(exc))
    for link in chain:
        if isinstance(link, _Refused):
            return f"refused: {link}"
    for link in chain:
        if isinstance(link, ssl.SSLCertVerificationError):
            return f"TLS: certificate verify failed: {link.verify_message}"
        if isinstance(link, ssl.SSLError):
            return f"TLS: {link.reason or link}"
    if isinstance(exc, httpx.TimeoutException):
        return f"deadline of {deadline:g} s passed"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {exc}"
    if isinstance(exc, httpx.ProtocolError):
        return f"not a valid HTTP answer: {exc}"
    if isinstance(exc, httpx.NetworkError):
        return f"connection lost: {exc}"
    return f"request failed: {exc}"


def post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    allow_private: bool,
    resolver: Resolver = system_resolver,
    deadline: float = 15.0,
    verify: ssl.SSLContext | bool = True,
    excerpt_bytes: int = 1024,
) -> Answer:
    """POST `body` to `url` once, safely; never raises for network or SSRF problems.

    The URL is checked again (https, no user info...), the host resolved once and every address
    checked by the connection itself, which then connects to a checked address. No proxy from the
    environment, no redirect followed (a 3xx is returned as it is), one total `deadline` in
    seconds, at most `excerpt_bytes` of the body kept. The body is asked for uncompressed
    (`Accept-Encoding: identity`, unless `headers` says otherwise) and read raw, so a compressed
    answer cannot expand in memory.
    """
    started = time.monotonic()
    deadline_at = started + deadline
    status: int | None = None
    retry_after: float | None = None
    excerpt = bytearray()
    error: str | None = None
    try:
        _target(url, allow_private=allow_private)
        backend = _GuardedBackend(
            resolver=resolver, allow_private=allow_private, deadline_at=deadline_at
        )
        with (
            httpx.Client(
                transport=_GuardedTransport(backend=backend, verify=verify),
                trust_env=False,
                follow_redirects=False,
                timeout=httpx.Timeout(deadline),
                headers={"Accept-Encoding": "identity"},
            ) as client,
            client.stream("POST", url, content=body, headers=dict(headers)) as response,
        ):
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            for chunk in response.iter_raw():
                excerpt += chunk[: excerpt_bytes - len(excerpt)]
                if len(excerpt) >= excerpt_bytes:
                    break
    except UnsafeUrl as exc:
        error = f"refused: {exc}"
    except httpx.HTTPError as exc:
        error = _failure(exc, deadline)
    return Answer(
        status=status if error is None else None,
        excerpt=bytes(excerpt).decode("utf-8", errors="replace"),
        duration_ms=int((time.monotonic() - started) * 1000),
        retry_after=retry_after if error is None else None,
        error=error,
    )
