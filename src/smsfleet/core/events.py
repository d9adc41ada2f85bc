"""Fan-out of typed events to WebSocket subscribers, in this process and, with several
replicas, in the others too.

Publishers run in any thread (the supervisor runs in its own); each subscriber
is an asyncio queue drained by one WebSocket, fed thread-safely. A subscriber
too slow to keep up loses events rather than stalling the publisher.

With a `RedisFanout`, every event is also published on a Redis channel, and the
events the other replicas publish there reach this replica's subscribers: a
browser connected to any replica sees the whole fleet. An event is delivered
here at once and skipped when it comes back from Redis, so it is seen once. What a
replica publishes within `FANOUT_FLUSH_SECONDS` goes out as one Redis message, by a
thread of its own: a busy replica (a report is an event) makes one publish per flush,
not one per event, and never waits on Redis in a request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from pydantic import BaseModel

log = logging.getLogger("smsfleet.events")

QUEUE_SIZE = 1000
# How long events wait to be relayed together; and how many may wait (Redis away).
FANOUT_FLUSH_SECONDS = 0.05
FANOUT_BACKLOG = 10_000

E = TypeVar("E", bound=BaseModel)


class Subscription:
    def __init__(self, loop: asyncio.AbstractEventLoop, topics: frozenset[str]) -> None:
        self.loop = loop
        self.topics = topics
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1


class EventBus:
    def __init__(self, fanout: RedisFanout | None = None) -> None:
        self._subscriptions: set[Subscription] = set()
        self._listeners: dict[str, list[Callable[[BaseModel], None]]] = {}
        self._lock = threading.Lock()
        self.fanout = fanout
        if fanout is not None:
            fanout.deliver = self._deliver

    def subscribe(self, topics: frozenset[str]) -> Subscription:
        subscription = Subscription(asyncio.get_running_loop(), topics)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def listen(self, topic: str, kind: type[E], listener: Callable[[E], None]) -> None:
        """Call `listener` with every `kind` event published on `topic` in this process.

        Events relayed from other replicas do not reach listeners: each replica acts
        on its own events, so nothing is acted on twice.
        """

        def call(event: BaseModel) -> None:
            if isinstance(event, kind):
                listener(event)

        with self._lock:
            self._listeners.setdefault(topic, []).append(call)

    def publish(self, topic: str, event: BaseModel) -> None:
        with self._lock:
            listeners = list(self._listeners.get(topic, ()))
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener's fault must not stop the publisher
                log.exception("a listener of %s failed", topic)
        message = {"topic": topic, "data": event.model_dump(mode="json")}
        self._deliver(message)
        if self.fanout is not None:
            self.fanout.send(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        topic = message["topic"]
        with self._lock:
            targets = [s for s in self._subscriptions if topic in s.topics]
        for subscription in targets:
            try:
                subscription.loop.call_soon_threadsafe(subscription.offer, message)
            except RuntimeError:
                self.unsubscribe(subscription)  # its event loop has closed


class RedisFanout:
    """Relays a bus's events through a Redis channel to the other replicas' buses."""

    def __init__(
        self, client: redis.Redis, *, channel: str = "smsfleet:events", owns_client: bool = False
    ) -> None:
        self._client = client
        self._channel = channel
        self._owns_client = owns_client
        self._origin = uuid.uuid4().hex
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        # Beyond the backlog the oldest are dropped: live views catch up on their next read.
        self._outbox: deque[dict[str, Any]] = deque(maxlen=FANOUT_BACKLOG)
        self.deliver: Callable[[dict[str, Any]], None] = lambda _message: None

    @classmethod
    def from_url(cls, url: str, *, channel: str = "smsfleet:events") -> RedisFanout:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        return cls(client, channel=channel, owns_client=True)

    def send(self, message: dict[str, Any]) -> None:
        self._outbox.append(message)  # thread-safe; relayed by the next flush

    def flush(self) -> int:
        """Publish what is waiting as one message; how many events it held."""
        messages = []
        while self._outbox:
            messages.append(self._outbox.popleft())
        if not messages:
            return 0
        try:
            self._client.publish(
                self._channel, json.dumps({"origin": self._origin, "messages": messages})
            )
        except redis.RedisError as error:  # this replica's own subscribers still got them
            log.warning("%d events not relayed to the other replicas: %s", len(messages), error)
        return len(messages)

    def start(self) -> None:
        for name, target in (("event-fanout", self._relay), ("event-fanout-send", self._send)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.flush()
        if self._owns_client:
            self._client.close()

    def _send(self) -> None:
        while not self._stopping.wait(FANOUT_FLUSH_SECONDS):
            self.flush()

    def _relay(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._channel)
                backoff = 0.5
                while not self._stopping.is_set():
                    item = pubsub.get_message(timeout=0.5)
                    if item is not None:
                        self._receive(item["data"])
            except redis.RedisError as error:
                log.warning("event fan-out interrupted, reconnecting: %s", error)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                pubsub.close()

    def _receive(self, data: bytes | str) -> None:
        try:
            envelope = json.loads(data)
        except ValueError:
            log.warning("ignored a malformed event on %s", self._channel)
            return
        if envelope.get("origin") != self._origin:
            for message in envelope.get("messages", ()):
                self.deliver(message)
