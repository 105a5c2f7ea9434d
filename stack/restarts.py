"""When a part of the stack that died is started again: bounded restarts with a growing backoff.

Managed services come back after a crash (Upstash, SQS, Lambda starting a new container); the
stack's stand-ins do too, through :class:`RestartPolicy`. A part is started again after a backoff
that doubles with each crash in the recent window (``first_delay_s``, then 2x, 4x, ... up to
``max_delay_s``); a part that crashed more than ``max_restarts`` times within ``window_s`` is
crash-looping (a bad build, a port that stays taken): the policy gives up and the stack stops, as
systemd's ``StartLimitBurst`` does, instead of hiding the failure behind endless restarts. API
processes and lane workers are Lambda containers instead (:data:`LAMBDA`): started again at once,
always.

:class:`Watcher` applies the policy to a set of processes on each :meth:`Watcher.tick`; it only
needs a ``poll()`` from each process and callbacks to start one, so that the policy is tested with
fake processes and a fake clock (``tests/unit/stack/test_restarts.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

__all__ = ["LAMBDA", "Crashing", "RestartPolicy", "Supervised", "Watcher"]


@dataclass(frozen=True)
class RestartPolicy:
    """How often and how soon a dead part is started again."""

    max_restarts: int | None = 5  # None: never give up (a Lambda container, see LAMBDA)
    window_s: float = 60.0
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0

    def delay(self, crashes: Sequence[float], now: float) -> float | None:
        """Seconds to wait before starting again a part that crashed at the times ``crashes``
        (the latest last, ``now`` included); None once it has crashed too often to try again."""
        recent = [t for t in crashes if now - t < self.window_s]
        if self.max_restarts is not None and len(recent) > self.max_restarts:
            return None
        backoff: float = self.first_delay_s * 2.0 ** (max(1, len(recent)) - 1)
        return min(self.max_delay_s, backoff)


# Lambda starts a new container for the next event at once, however often the last one died (a
# lane function past its timeout is ended so, as a matter of course): API processes and lane
# workers are started again at once, always.
LAMBDA = RestartPolicy(max_restarts=None, first_delay_s=0.0)


class _Process(Protocol):
    def poll(self) -> int | None: ...


class Supervised(Protocol):
    """What the watcher needs of a part: its name, its current process, its crash history."""

    name: str
    crashes: list[float]
    restart_at: float | None
    restarts: int

    @property
    def process(self) -> _Process | None: ...


P = TypeVar("P", bound=Supervised)


class Crashing(Exception):
    """A part crashed more often than the policy allows: the stack stops."""


@dataclass
class Watcher(Generic[P]):
    """Starts again, per the policy, each part whose process has exited."""

    policy: RestartPolicy
    clock: Callable[[], float]
    start: Callable[[P], None]  # spawn the part's process again (the same arguments)
    log: Callable[[str], None] = print
    policy_for: Callable[[P], RestartPolicy] | None = None  # a part's own policy, else ``policy``
    events: list[str] = field(default_factory=list)

    def tick(self, parts: Sequence[P]) -> list[P]:
        """One look at every part; returns the parts started again in this tick. Raises
        :class:`Crashing` for a part the policy gives up on."""
        now = self.clock()
        started = []
        for part in parts:
            if part.restart_at is not None:
                if now >= part.restart_at:
                    part.restart_at = None
                    part.restarts += 1
                    self._say(f"{part.name}: starting it again (restart {part.restarts})")
                    self.start(part)
                    started.append(part)
                continue
            code = part.process.poll() if part.process is not None else None
            if code is None:
                continue
            policy = self.policy if self.policy_for is None else self.policy_for(part)
            part.crashes[:] = [t for t in part.crashes if now - t < policy.window_s] + [now]
            delay = policy.delay(part.crashes, now)
            if delay is None:
                self._say(
                    f"{part.name} exited ({code}) {len(part.crashes)} times, more than "
                    f"{policy.max_restarts} restarts in {policy.window_s:g} s: giving up"
                )
                raise Crashing(part.name)
            part.restart_at = now + delay
            self._say(f"{part.name} exited ({code}); starting it again in {delay:.1f} s")
        return started

    def _say(self, line: str) -> None:
        self.events.append(line)
        self.log(line)
