"""Sending webhook requests: aiohttp with connection reuse, behind an SSRF guard.

The guard resolves a host, refuses it when any address is not public (loopback, private,
link-local, unspecified, reserved, multicast, and IPv4 behind IPv6 mappings), and hands the
addresses it checked to the connector, which connects to exactly those: DNS cannot answer
differently between the check and the connection. An address literal never reaches the
resolver, so it is checked before each attempt. `VOUCHERS_WEBHOOKS_ALLOWED_HOSTS` narrows the
hosts to a list (whose members may be private); `VOUCHERS_WEBHOOKS_ALLOW_PRIVATE` lifts the
address rule. Redirects are not followed, and at most RESPONSE_BYTES of an answer are read.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

RESPONSE_BYTES = 4096
USER_AGENT = "partner-vouchers-webhooks/1"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlNotAllowed(Exception):
    """The URL may not be sent to; the message says why."""


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public(mapped)
    return address.is_global and not address.is_multicast


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


@dataclass(frozen=True)
class UrlGuard:
    allow_private: bool = False
    allowed_hosts: frozenset[str] | None = None  # None: any host with public addresses

    def _host(self, url: str) -> str:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - a bad port raises here
        except ValueError as exc:
            raise UrlNotAllowed(f"not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https"):
            raise UrlNotAllowed("only http and https URLs")
        host = (parts.hostname or "").lower()
        if not host:
            raise UrlNotAllowed("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise UrlNotAllowed("credentials in the URL are not accepted")
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            raise UrlNotAllowed(f"host {host} is not in VOUCHERS_WEBHOOKS_ALLOWED_HOSTS")
        return host

    def allows(self, host: str, address: Address) -> bool:
        listed = self.allowed_hosts is not None and host in self.allowed_hosts
        return listed or self.allow_private or is_public(address)

    def _check_address(self, host: str, address: Address) -> None:
        if not self.allows(host, address):
            raise UrlNotAllowed(f"{host} is or resolves to a non-public address ({address})")

    def check_attempt(self, url: str) -> URL:
        """Before each attempt: the URL's scheme and host, and an address literal's address
        (a name's addresses are checked by the resolver as the connection is made). Returns
        the URL parsed for the client. The same URL always gets the same answer: cached."""
        return self._check_attempt(url)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - guards live as long as the process
    def _check_attempt(self, url: str) -> URL:
        host = self._host(url)
        address = _literal(host)
        if address is not None:
            self._check_address(host, address)
        return URL(url)

    async def check(self, url: str) -> None:
        """When an endpoint is saved: the attempt's checks, and every address the name
        resolves to now."""
        self.check_attempt(url)
        host = self._host(url)
        if _literal(host) is not None:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError:
            raise UrlNotAllowed(f"{host} does not resolve") from None
        for info in infos:
            self._check_address(host, ipaddress.ip_address(str(info[4][0]).split("%")[0]))


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name with any address the guard does not allow."""

    def __init__(self, guard: UrlGuard) -> None:
        self._guard, self._inner = guard, DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for info in found:
            address = ipaddress.ip_address(info["host"].split("%")[0])
            if not self._guard.allows(host.lower(), address):
                raise OSError(f"{host} resolves to a non-public address ({address})")
        return found

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer
    error: str  # "" when the receiver answered


class WebhookClient:
    """One connection pool for every endpoint; made in the running event loop (`open`)."""

    def __init__(self, guard: UrlGuard, timeout_s: float) -> None:
        self.guard, self._timeout = guard, aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self.guard), limit=0, ttl_dns_cache=10
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            trust_env=False,  # no proxies from the environment
            auto_decompress=False,
            headers={"user-agent": USER_AGENT},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        assert self._session is not None, "open() first"
        try:
            checked = self.guard.check_attempt(url)
            async with self._session.post(
                checked, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.content.read(RESPONSE_BYTES)
                return Answer(response.status, "")
        except UrlNotAllowed as exc:
            return Answer(None, f"url_not_allowed: {exc}")
        except TimeoutError:
            return Answer(None, "timeout")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Answer(None, _describe(exc))


def _describe(exc: BaseException) -> str:
    cause: Any = exc.__cause__ or exc
    text = str(cause) or type(cause).__name__
    return f"{type(exc).__name__}: {text}"
