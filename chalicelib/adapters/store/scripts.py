"""The Lua scripts of the state store, loaded once per container and called by SHA."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).parent / "lua"


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: str

    @functools.cached_property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA1


@functools.cache
def script(name: str) -> LuaScript:
    return LuaScript(name, (LUA_DIR / f"{name}.lua").read_text())
