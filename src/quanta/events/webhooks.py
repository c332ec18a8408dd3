"""Webhooks: the event log POSTed to subscribers, at least once, signed, retried.

Each event a subscription wants is queued once, in the transaction that moves its cursor
(`WebhookStore.enqueue`), and tried until the receiver answers 2xx: after a failure
(a status other than 2xx, a timeout, a refused connection) the next try waits
`BACKOFF` seconds, doubled at each failure up to `BACKOFF_MOST`, and `GIVE_UP` failures
end it as ``failed``. A receiver that is down gets every event when it is back; one may
get an event twice (a delivery whose answer was lost), so receivers keep the event ``id``.

Every request is signed: ``X-Quanta-Signature: sha256=<hex>`` is the HMAC-SHA256 of
``<X-Quanta-Timestamp>.<body>`` under the subscription's secret. The secret is derived
from the mesh's ``webhooks`` key (the key store, never the catalog) and the
subscription's nonce, so the catalog holds nothing that signs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from quanta.errors import AccessDenied, NotFound, UserError
from quanta.events.audience import heard_by
from quanta.events.history import fold
from quanta.model.actor import Actor
from quanta.model.events import EventRecord
from quanta.model.names import PortAddress, name_problem
from quanta.model.webhooks import Delivery, DeliveryState, Webhook

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.stores import WebhookStore

BACKOFF = 10.0
"""Seconds before the first retry."""
BACKOFF_MOST = 3600.0
GIVE_UP = 20
"""Failures after which a delivery is given up on (about 18 hours of tries)."""
TIMEOUT = 10.0
"""Seconds a receiver has to answer."""
LEASE = 120.0
"""Seconds a worker holds a delivery it is sending: another worker leaves it alone."""
LATE = 600.0
"""Seconds an event's transaction may commit after later ones did (ids are taken at
insert): each round looks back this far for events not yet queued."""
KEY = "webhooks"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """What ``X-Quanta-Signature`` holds for a request: how a receiver checks one."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, timestamp: str, body: bytes, signed: str) -> bool:
    """Whether ``signed`` is the request's signature (compared in constant time)."""
    expected = signature(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signed.encode("utf-8", "surrogateescape"))


@dataclass(frozen=True)
class Round:
    """What one delivery run did."""

    queued: int
    delivered: int
    failed: int
    """Tries that failed (each retried later, or given up on)."""
    given_up: int
    withheld: int = 0
    """Events not sent: not for who subscribed (another consumer's access request)."""


class Webhooks:
    def __init__(self, mesh: MeshContext) -> None:
        self.mesh = mesh

    @property
    def store(self) -> WebhookStore:
        return self.mesh.stores.webhooks

    def secret(self, webhook_id: int) -> bytes:
        nonce = self.store.nonce(webhook_id)
        if nonce is None:
            raise NotFound(f"there is no webhook {webhook_id}: see quanta webhooks list")
        master = self.mesh.governance.keys.key(KEY)
        return hmac.new(master, f"{webhook_id}:{nonce}".encode(), hashlib.sha256).digest()

    def add(
        self,
        actor: Actor,
        url: str,
        *,
        product: str | None = None,
        domain: str | None = None,
        kinds: list[str] | None = None,
    ) -> tuple[Webhook, str]:
        """Subscribe ``url`` to the events of ``product`` (its owners and consumers), of a
        ``domain`` or of every product (the governance group); the subscription, and its
        secret (hex), shown this once."""
        _check_url(url)
        if product is not None and domain is not None:
            raise UserError("name a --product or a --domain, not both")
        if domain is not None and (problem := name_problem(domain, "domain")) is not None:
            raise UserError(f"--domain: {problem}")
        access = self.mesh.access
        if product is not None:
            try:
                product = str(PortAddress.parse(product).product)
            except ValueError as error:
                raise UserError(f"--product {product!r}: {error}") from None
            if self.mesh.stores.catalog.product(product) is None:
                raise NotFound(f"there is no product {product}: find one with quanta search")
            audience = heard_by(self.mesh, actor)
            if audience is not None and not audience.concerns(product):
                raise AccessDenied(
                    f"only the owners and consumers of {product} may subscribe to its events; "
                    f"{actor.name} is neither"
                )
        elif actor.name not in access.directory.governance():
            raise AccessDenied(
                "only the governance group may subscribe to a whole domain or to every "
                f"product; {actor.name} is not in it: name a --product"
            )
        webhook = Webhook(
            url=url,
            product=product,
            domain=domain,
            kinds=sorted(set(kinds or [])),
            created_by=actor.name,
            created_at=datetime.now(UTC),
        )
        kept = self.store.add(webhook, secrets.token_hex(16))
        return kept, self.secret(kept.id).hex()

    def remove(self, actor: Actor, webhook_id: int) -> None:
        found = next((w for w in self.store.webhooks() if w.id == webhook_id), None)
        if found is None:
            raise NotFound(f"there is no webhook {webhook_id}: see quanta webhooks list")
        governance = self.mesh.access.directory.governance()
        if found.created_by != actor.name and actor.name not in governance:
            raise AccessDenied(f"webhook {webhook_id} is {found.created_by}'s to remove")
        self.store.remove(webhook_id)

    def deliver(
        self, now: datetime | None = None, *, limit: int = 100, timeout: float = TIMEOUT
    ) -> Round:
        """Queue what each subscription has not heard yet, then try every delivery due
        (each receiver answering within ``timeout`` seconds)."""
        now = now or datetime.now(UTC)
        fold(self.mesh.settings.home, self.mesh.stores.events)  # spooled events: sent too
        queued = self.store.enqueue(now, LATE)
        delivered = failed = given_up = held = 0
        withheld: dict[int, Callable[[EventRecord], tuple[DeliveryState, str] | None]] = {}
        for delivery, webhook, event in self.store.due(now, limit):
            if not self.store.claim(delivery.id, now, now + timedelta(seconds=LEASE)):
                continue  # another worker is sending it
            if webhook.id not in withheld:
                withheld[webhook.id] = self._withheld(webhook)
            kept = withheld[webhook.id](event)
            if kept is not None:
                state, why = kept
                self.store.attempted(delivery.id, state, now, now, why)
                given_up += state is DeliveryState.FAILED
                held += state is DeliveryState.WITHHELD
                continue
            try:
                error = self._post(delivery, webhook, event, timeout)
            except NotFound:  # removed while this round went on
                continue
            if error is None:
                self.store.attempted(delivery.id, DeliveryState.DELIVERED, now, now, None)
                delivered += 1
                continue
            failed += 1
            tries = delivery.attempts + 1
            if tries >= GIVE_UP:
                self.store.attempted(delivery.id, DeliveryState.FAILED, now, now, error)
                given_up += 1
                continue
            wait = min(BACKOFF * 2 ** (tries - 1), BACKOFF_MOST)
            later = now + timedelta(seconds=wait)
            self.store.attempted(delivery.id, DeliveryState.PENDING, now, later, error)
        return Round(queued, delivered, failed, given_up, held)

    def _withheld(
        self, webhook: Webhook
    ) -> Callable[[EventRecord], tuple[DeliveryState, str] | None]:
        """What keeps an event from who subscribed, and why (None: nothing does). They
        hear what they could read with ``quanta events`` (`quanta.events.audience`), and
        only while they may subscribe: the governance group for a domain or all, the
        product's owners and consumers for a product."""
        who = Actor(name=webhook.created_by)
        audience = heard_by(self.mesh, who)
        gone: str | None = None
        if audience is None:
            return lambda event: None
        if webhook.product is None:
            gone = f"{who.name} is no longer in the governance group"
        elif not audience.concerns(webhook.product):
            gone = f"{who.name} may no longer read {webhook.product}"
        if gone is not None:
            failed = (DeliveryState.FAILED, gone)
            return lambda event: failed
        kept = (DeliveryState.WITHHELD, f"{who.name} hears of their own access requests only")
        return lambda event: (
            None if audience.hears(event.kind, event.subject, event.payload) else kept
        )

    def _post(
        self, delivery: Delivery, webhook: Webhook, event: EventRecord, timeout: float
    ) -> str | None:
        """POST the event; None when the receiver took it, else why not."""
        body = json.dumps(
            {
                "id": event.id,
                "kind": event.kind,
                "at": event.at.isoformat(),
                "subject": event.subject,
                "payload": event.payload,
                "delivery": delivery.id,
            },
            sort_keys=True,
        ).encode()
        timestamp = str(int(datetime.now(UTC).timestamp()))
        request = urllib.request.Request(
            webhook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "quanta-webhooks",
                "X-Quanta-Event": event.kind,
                "X-Quanta-Delivery": str(delivery.id),
                "X-Quanta-Timestamp": timestamp,
                "X-Quanta-Signature": signature(self.secret(webhook.id), timestamp, body),
            },
        )
        return _sent(request, timeout)


def _sent(request: urllib.request.Request, timeout: float) -> str | None:
    """Send ``request``; None when answered 2xx within ``timeout`` seconds in all (a
    receiver trickling its answer byte by byte does not hold the worker), else why not."""
    answered: list[str | None] = []
    sender = threading.Thread(target=lambda: answered.append(_send(request, timeout)), daemon=True)
    sender.start()
    sender.join(timeout)
    return answered[0] if answered else f"no answer in {timeout:g} s"


def _send(request: urllib.request.Request, timeout: float) -> str | None:
    try:
        with _opener().open(request, timeout=timeout) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except TimeoutError:
        return f"no answer in {timeout:g} s"
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            return f"no answer in {timeout:g} s"
        return f"cannot connect: {type(reason).__name__}"
    except OSError as error:
        return f"cannot connect: {type(error).__name__}"
    except Exception as error:  # http.client's own (InvalidURL, a broken answer...)
        return f"the request failed: {type(error).__name__}"
    return None if 200 <= status < 300 else f"HTTP {status}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver that redirects is not followed: the event would go where it was not sent."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects, urllib.request.ProxyHandler({}))


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise UserError(f"the webhook URL {url!r} has a port that is not a number") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"the webhook URL {url!r} is not an http(s) URL with a host")
    if any(
        character.isspace() or ord(character) < 0x21 or ord(character) > 0x7E for character in url
    ):
        raise UserError(
            f"the webhook URL {url!r} holds spaces or characters a URL does not: "
            "percent-encode them"
        )
    if parts.username or parts.password:
        raise UserError(
            "the webhook URL holds a user name or password: the signature is the "
            "receiver's proof, give a URL without them"
        )
    if len(url) > 2000:
        raise UserError("the webhook URL is longer than 2,000 characters")
