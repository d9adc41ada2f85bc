"""In-process fan-out of typed events to WebSocket subscribers.

Publishers run in any thread (the supervisor runs in its own); each subscriber
is an asyncio queue drained by one WebSocket, fed thread-safely. A subscriber
too slow to keep up loses events rather than stalling the publisher.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from pydantic import BaseModel

QUEUE_SIZE = 1000


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
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self, topics: frozenset[str]) -> Subscription:
        subscription = Subscription(asyncio.get_running_loop(), topics)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def publish(self, topic: str, event: BaseModel) -> None:
        message = {"topic": topic, "data": event.model_dump(mode="json")}
        with self._lock:
            targets = [s for s in self._subscriptions if topic in s.topics]
        for subscription in targets:
            try:
                subscription.loop.call_soon_threadsafe(subscription.offer, message)
            except RuntimeError:
                self.unsubscribe(subscription)  # its event loop has closed
