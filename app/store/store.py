"""The store: one Redis client, its key builder and scripts, and a module per resource."""

from __future__ import annotations

import secrets

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ClusterDownError, ResponseError

from app.config import Settings
from app.store.allocations import AllocationStore
from app.store.batching import AllocationBatcher
from app.store.campaigns import CampaignStore
from app.store.claims import ClaimStore
from app.store.connection import Client, node_client, server_supported
from app.store.events import EventStore
from app.store.keys import Keys
from app.store.lists import ListStore
from app.store.partners import PartnerStore
from app.store.replication import ReplicaAcks
from app.store.scripts import Scripts
from app.store.snapshots import SnapshotLoader, SnapshotStore
from app.store.uploads import UploadStore
from app.store.webhooks import WebhookStore


class Store:
    def __init__(
        self,
        redis: Client,
        prefix: str,
        event_retention: int = 1_000_000,
        claim_lease_ms: int = 30_000,
        acks: ReplicaAcks | None = None,
    ) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.scripts = Scripts(redis, acks)
        self.partners = PartnerStore(redis, self.keys, self.scripts)
        self.claims = ClaimStore(redis, self.keys, self.scripts, claim_lease_ms)
        self.lists = ListStore(redis, self.keys, self.scripts, self.claims)
        self.campaigns = CampaignStore(redis, self.keys, self.scripts)
        self.uploads = UploadStore(redis, self.keys, self.scripts)
        self.allocations = AllocationStore(redis, self.keys, self.scripts)
        self.batcher = AllocationBatcher(self.allocations)
        self.events = EventStore(redis, self.keys, self.scripts, event_retention)
        self.webhooks = WebhookStore(redis, self.keys, self.scripts)
        self.snapshots = SnapshotStore(redis, self.keys, self.scripts, self.events)
        self.loader = SnapshotLoader(redis, self.keys, self.events)

    @classmethod
    def of(cls, redis: Client, settings: Settings) -> Store:
        """The store as the settings describe it, on `redis`."""
        acks = None
        if settings.redis_replica_acks and settings.redis_url is not None:
            acks = ReplicaAcks(
                settings.redis_replica_acks,
                settings.redis_replica_timeout_ms,
                node_client(settings),
            )
        return cls(
            redis,
            settings.key_prefix,
            settings.events_retention,
            int(settings.claim_lease_s * 1000),
            acks,
        )

    async def cursor_secret(self) -> bytes:
        """The secret that signs paging cursors, the same for every process of the service:
        made once, by whichever process asks first."""
        await self.redis.set(self.keys.cursor_secret, secrets.token_hex(32), nx=True)
        return bytes.fromhex(str(await self.redis.get(self.keys.cursor_secret)))

    async def ping(self) -> None:
        """Raise when Redis does not answer."""
        await self.redis.ping()

    async def server(self) -> str:
        """The server's version ("Redis 7.0.15"); raises UnsupportedStore for a Redis older
        than the scripts need. (Not HELLO: redis-py drops its reply parsers on a connection
        that sent one.)"""
        try:
            info = await self.redis.info("server")
        except ResponseError:  # no INFO: the embedded store (fakeredis), or INFO renamed away
            return "a server without INFO (taken as it is)"
        version = str(info.get("redis_version", "?"))
        server_supported(version)
        return f"Redis {version}"

    async def ready(self) -> int:
        """Raise when the store does not answer, or, on a cluster, while any slot has no master
        (a failover under way); load any script a master lacks and say how many."""
        if isinstance(self.redis, RedisCluster):
            state = (await self.redis.cluster_info()).get("cluster_state")
            if state != "ok":
                raise ClusterDownError(f"the cluster's state is {state}")
        else:
            await self.redis.ping()
        return await self.scripts.load_missing()
