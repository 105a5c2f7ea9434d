"""Similar requests: when two prompts of the same style and quality are close enough to share a
picture.

A prompt is compared as a set of words (token-set Jaccard similarity) after the cache's own
normalisation (``normalize_prompt``), with filler words left out: "a red fox with glasses" and
"red fox, glasses" are the same request to a picture. Two empty prompts (the style alone) are
identical. The store keeps, per style and quality, a bounded index of the results it has cached
(``finish.lua`` adds to it, ``admit.lua`` reads it in the call that admits a request), so the
comparison costs no round trip of its own and never scans the keyspace. The index holds prompt
words by the cache entry's request hash: erasing a user's data (``GenerationStore.erase``) takes
their requests out.

A prompt can hold a name or an address: a similar result carries its prompt only for the caller
whose request it was made for. The cache entry keeps its maker as an :func:`owner_tag` (a hash of
the identity, never the identity itself), and ``admit.lua`` compares it with the caller's in the
same call, so another user's words never even leave the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.generation import normalize_prompt

# Shown as an instant choice at or above this similarity; served at once (``accept_similar``)
# at or above the stricter one.
OFFER_THRESHOLD = 0.5
ACCEPT_THRESHOLD = 0.75
MAX_SIMILAR = 3
# Cached results kept in each (style, quality) index, newest first; older ones drop out.
INDEX_SIZE = 100

# Words that change no picture; kept short on purpose (a colour or a noun is never filler).
FILLER = frozenset(
    "a an the of with and in on at to for by from as is are wearing who that this my me i".split()  # noqa: SIM905
)
_WORD = re.compile(r"\w+")


def owner_tag(owner: str) -> str:
    """The maker of a cached result as its cache entry keeps it: a hash of the identity's key
    ('' for none, which matches no caller)."""
    if not owner:
        return ""
    return hashlib.sha256(b"similar-owner:" + owner.encode()).hexdigest()[:32]


def prompt_tokens(prompt: str) -> tuple[str, ...]:
    """The words a prompt is compared by: normalised, filler left out, each once, sorted."""
    words = _WORD.findall(normalize_prompt(prompt))
    return tuple(sorted({w for w in words if w not in FILLER}))


def similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Token-set Jaccard similarity (the same formula ``admit.lua`` computes); 1.0 for two
    empty sets."""
    left, right = set(a), set(b)
    union = len(left | right)
    return 1.0 if union == 0 else len(left & right) / union


@dataclass(frozen=True)
class SimilarResult:
    """A cached result of a similar request: its cache entry (``request_hash``), its images
    (object keys by size), how close it is (0..1) and the prompt it was made for, only where that
    was the caller's own request (None: someone else's words, never shown)."""

    request_hash: str
    prompt: str | None
    images: Mapping[str, str]
    score: float

    @property
    def id(self) -> str:
        """The result's public id: its cache entry, not a generation (whose it was stays private)."""
        return "sim_" + self.request_hash
