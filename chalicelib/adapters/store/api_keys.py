"""Enterprise API keys on Redis (``apikey_*.lua``).

apikey:{hmac}   the lookup (JSON): what authentication GETs; deleted when the key is revoked
apikey:id:{id}  the record (hash): public fields, key_hash and webhook_secret
apikeys         the listing (zset of ids by creation time)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib.adapters.store.client import Arg
from chalicelib.adapters.store.keyspace import Keyspace
from chalicelib.adapters.store.replies import epoch_ms, hash_reply, text
from chalicelib.adapters.store.scripts import script
from chalicelib.ports import ApiKeyRecord, StoreError


class RedisApiKeys:
    """:class:`chalicelib.ports.ApiKeyStore` on Redis."""

    def __init__(self, keys: Keyspace) -> None:
        self._keys = keys

    def put(self, record: ApiKeyRecord) -> None:
        if not record.key_hash:
            raise ValueError("an API key record needs its hash")
        lookup = json.dumps(
            {
                "id": record.id,
                "name": record.name,
                "tier": record.tier,
                "limits": dict(record.limits),
                "created_at": record.created_at,
                "prefix": record.prefix,
            },
            separators=(",", ":"),
        )
        fields: list[Arg] = []
        for name, value in (
            ("id", record.id),
            ("name", record.name),
            ("tier", record.tier),
            ("limits", json.dumps(dict(record.limits), separators=(",", ":"))),
            ("created_at", record.created_at),
            ("prefix", record.prefix),
            ("revoked", "1" if record.revoked else "0"),
            ("key_hash", record.key_hash),
            ("webhook_secret", record.webhook_secret),
        ):
            fields += [name, value]
        k = self._keys.key
        stored = self._keys.client.run_script(
            script("apikey_put"),
            [k(f"apikey:{record.key_hash}"), k(f"apikey:id:{record.id}"), k("apikeys")],
            [lookup, record.id, epoch_ms(record.created_at), *fields],
        )
        if int(stored) != 1:
            raise StoreError("an API key with this id or hash already exists")

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        value = self._keys.client.command("GET", self._keys.key(f"apikey:{key_hash}"))
        if value is None:
            return None
        try:
            doc = json.loads(text(value))
            return ApiKeyRecord(
                id=str(doc["id"]),
                name=str(doc["name"]),
                tier=str(doc["tier"]),
                limits={str(k): int(v) for k, v in dict(doc.get("limits") or {}).items()},
                created_at=str(doc["created_at"]),
                prefix=str(doc.get("prefix", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError("state store holds a malformed API key lookup") from exc

    def get(self, key_id: str) -> ApiKeyRecord | None:
        fields = hash_reply(self._keys.client.command("HGETALL", self._keys.key(f"apikey:id:{key_id}")))
        if not fields.get("id"):
            return None
        return _api_key(fields, secrets=True)

    def list(self, limit: int = 1000) -> list[ApiKeyRecord]:
        reply = self._keys.client.run_script(
            script("apikey_list"), [self._keys.key("apikeys")], [max(1, limit), self._keys.key("apikey:id:")]
        )
        names = ("id", "name", "tier", "limits", "created_at", "prefix", "revoked")
        try:
            count = int(reply[0])
            rows = [reply[1 + i * len(names) : 1 + (i + 1) * len(names)] for i in range(count)]
            return [_api_key(dict(zip(names, (text(v or "") for v in row), strict=True))) for row in rows]
        except (IndexError, TypeError, ValueError) as exc:
            raise StoreError("state store returned an unexpected API key listing") from exc

    def revoke(self, key_id: str) -> bool:
        revoked_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        reply = self._keys.client.run_script(
            script("apikey_revoke"),
            [self._keys.key(f"apikey:id:{key_id}")],
            [self._keys.key("apikey:"), revoked_at],
        )
        return int(reply) > 0


def _api_key(fields: dict[str, str], *, secrets: bool = False) -> ApiKeyRecord:
    """An API key record from the store's fields (hash and webhook secret only when asked)."""
    try:
        limits = {str(k): int(v) for k, v in json.loads(fields.get("limits") or "{}").items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise StoreError("state store holds malformed API key limits") from exc
    return ApiKeyRecord(
        id=fields["id"],
        name=fields.get("name", ""),
        tier=fields.get("tier", ""),
        limits=limits,
        created_at=fields.get("created_at", ""),
        prefix=fields.get("prefix", ""),
        revoked=fields.get("revoked") == "1",
        key_hash=fields.get("key_hash", "") if secrets else "",
        webhook_secret=fields.get("webhook_secret", "") if secrets else "",
    )
