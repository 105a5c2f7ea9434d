"""Where each thing lives in Redis: one prefix per deployment, the key names in one place."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.store.client import RedisClient

# jobs:open      open jobs by deadline (admit.lua adds, finish.lua removes)
# jobs:poll      webhook-mode jobs by when to poll the provider (the reaper's fallback)
# jobs:callback  ended jobs with a callback_url by when to deliver it (finish.lua adds; admit.lua
#                adds a cache hit that has one)
# jobs:followers ended jobs whose followers are still to be ended (finish.lua adds, the last
#                finish_followers.lua call removes; the reaper finishes what a caller left)
TIMER_KEYS = {
    "deadline": "jobs:open",
    "poll": "jobs:poll",
    "callback": "jobs:callback",
    "followers": "jobs:followers",
}


@dataclass(frozen=True)
class Keyspace:
    """A client and the prefix of every key it touches."""

    client: RedisClient
    prefix: str = "af:"

    def key(self, name: str) -> str:
        return self.prefix + name

    @property
    def generation_prefix(self) -> str:
        return self.key("gen:")

    def generation(self, generation_id: str) -> str:
        return self.generation_prefix + generation_id

    def request_keys(self, request_hash: str) -> tuple[str, str, str]:
        """The result cache, the in-flight claim and the followers list of identical requests."""
        return (
            self.cache_prefix + request_hash,
            self.key(f"inflight:{request_hash}"),
            self.key(f"followers:{request_hash}"),
        )

    def similar_index(self, style: str, variant: str) -> tuple[str, str]:
        """The similar-results index of one style and quality (variant): ``sim:<style>:<variant>``,
        the request hashes of its cached results, newest last, and ``simw:<style>:<variant>``, their
        words by request hash (``finish.lua`` adds, ``admit.lua`` reads and prunes)."""
        prefix, words_prefix = self.similar_index_prefixes
        return f"{prefix}{style}:{variant}", f"{words_prefix}{style}:{variant}"

    @property
    def similar_index_prefixes(self) -> tuple[str, str]:
        """What :meth:`similar_index` keys start with (``erase.lua`` builds them from these)."""
        return self.key("sim:"), self.key("simw:")

    @property
    def cache_prefix(self) -> str:
        return self.key("cache:")

    def timer(self, timer: str) -> str:
        return self.key(TIMER_KEYS[timer])

    def pending_followers(self, generation_id: str) -> str:
        """An ended job's followers still to end (its followers list, moved aside)."""
        return self.key(f"followers:of:{generation_id}")

    @property
    def watchers_prefix(self) -> str:
        """``ws:watchers:<topic>``: the connections watching a generation or a batch."""
        return self.key("ws:watchers:")

    @property
    def holders_prefix(self) -> str:
        """``holders:<object key>``: who still serves a stored image (ports/holders.py)."""
        return self.key("holders:")

    @property
    def wake_prefix(self) -> str:
        """``ended:<id>``: the short-lived list a waiting request blocks on."""
        return self.key("ended:")
