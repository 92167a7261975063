"""Failed-login rate limiting, in memory. Pure apart from its injectable clock.

A sliding window of failure times per key: at most :attr:`LoginLimiter.per_user_ip`
failures per (user name, client address) and :attr:`LoginLimiter.per_ip` per
client address within :attr:`LoginLimiter.window_s`. Keying on the pair (and not on
the user name alone) keeps a stranger from locking a therapist out by typing wrong
passwords for their name from another machine, while still capping how fast any
one machine can guess. A success clears its pair's failures. The limiter forgets
everything on restart, which is acceptable at these limits (a restart is visible
and rare); the password hash's cost bounds guessing further.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

MAX_KEYS: Final = 10_000
"""Above this many tracked keys, expired ones are pruned (bounded memory)."""


@dataclass
class LoginLimiter:
    per_user_ip: int = 5
    per_ip: int = 20
    window_s: float = 15 * 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after_s(self, user: str, ip: str) -> float:
        """Seconds until this user may try again from ``ip``; ``0`` if allowed now."""
        now = self.clock()
        wait = 0.0
        for key, limit in ((_pair(user, ip), self.per_user_ip), (_ip(ip), self.per_ip)):
            times = self._recent(key, now)
            if len(times) >= limit:
                wait = max(wait, times[len(times) - limit] + self.window_s - now)
        return wait

    def failed(self, user: str, ip: str) -> None:
        now = self.clock()
        if len(self._failures) > MAX_KEYS:
            for key in list(self._failures):
                self._recent(key, now)
        for key in (_pair(user, ip), _ip(ip)):
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str, ip: str) -> None:
        self._failures.pop(_pair(user, ip), None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times


def _pair(user: str, ip: str) -> str:
    return f"u\x00{user.casefold()}\x00{ip}"


def _ip(ip: str) -> str:
    return f"i\x00{ip}"


def minutes(seconds: float) -> int:
    """Whole minutes to tell a user (at least 1)."""
    return max(1, math.ceil(seconds / 60.0))
