"""Settings, read from the environment (prefix VOUCHERS_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.lists import MAX_CODES_PER_LIST

Role = Literal["admin", "allocator", "viewer"]


class ApiKey(BaseModel):
    token: str = Field(min_length=16)
    role: Role
    user: str = Field(min_length=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOUCHERS_", extra="ignore")

    redis_url: str | None = None  # unset: the embedded in-process store
    redis_cluster: Literal["auto", "true", "false"] = "auto"  # auto: ask the node
    redis_replica_acks: int = Field(default=0, ge=0, le=16)  # replicas that confirm a change
    redis_replica_timeout_ms: int = Field(default=500, ge=1, le=60_000)
    data_dir: Path = Path("./data")
    key_prefix: str = Field(default="pv", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    api_keys: list[ApiKey] | None = None  # JSON; unset: an admin token kept in the data dir
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    redis_pool_size: int = Field(default=64, ge=1)
    redis_timeout_s: float = Field(default=0.4, gt=0)
    max_body_bytes: int = Field(default=65536, ge=1024)
    upload_lease_s: float = Field(default=10.0, gt=0)  # a crashed upload resumes after this
    claim_lease_s: float = Field(default=30.0, gt=0)  # a crashed create frees its tag after this
    upload_concurrency: int = Field(default=2, ge=1)  # uploads processed at once per worker
    max_codes_per_list: int = Field(default=MAX_CODES_PER_LIST, ge=1)
    events_retention: int = Field(default=1_000_000, ge=1000)  # newest events kept
    events_relay_interval_s: float = Field(default=0.05, gt=0)
    snapshot_interval_s: float = Field(default=300.0, ge=0)  # 0: only on demand and at shutdown
    snapshot_keep: int = Field(default=5, ge=1)
    snapshot_on_shutdown: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Webhooks: see docs/API.md "Webhooks".
    webhooks_allow_private: bool = False  # URLs on loopback, private, link-local addresses
    webhooks_allowed_hosts: str | None = None  # comma-separated; set: only these hosts
    # after a rotation, both secrets sign for this long
    webhooks_secret_overlap_s: int = Field(default=86_400, ge=0)
    webhooks_timeout_s: float = Field(default=10.0, gt=0, le=300)  # an attempt's whole time
    webhooks_retry_schedule: str = Field(
        default="5,300,1800,7200,18000,36000,36000", pattern=r"^\s*(\d+(\.\d+)?\s*(,\s*|$))*$"
    )
    webhooks_concurrency: int = Field(default=16, ge=1, le=1024)  # attempts at once per endpoint
    webhooks_retention: int = Field(default=10_000, ge=10)  # finished deliveries kept per endpoint
    webhooks_interval_s: float = Field(default=0.05, gt=0)  # how often the engine looks for work
    # process: `vouchers serve` starts one delivery process beside its workers (the embedded
    # store: inside its one worker); inline: in every worker; off: not here (run
    # `vouchers webhooks` on some host)
    webhooks_engine: Literal["process", "inline", "off"] = "process"
    webhooks_nice: int = Field(default=10, ge=0, le=19)  # the delivery process's niceness

    @property
    def webhooks_inline(self) -> bool:
        """Whether a worker runs the delivery engine itself."""
        return self.webhooks_engine == "inline" or (
            self.webhooks_engine == "process" and self.embedded
        )

    @property
    def read_timeout_s(self) -> float:
        """How long a Redis call may take to answer: with replica acknowledgements, a write
        also waits up to the replicas' timeout for them."""
        return self.redis_timeout_s + (
            self.redis_replica_timeout_ms / 1000 if self.redis_replica_acks else 0
        )

    @property
    def webhook_hosts(self) -> frozenset[str] | None:
        """The allow-list of webhook hosts, lowercased; None when any public host may be used."""
        if self.webhooks_allowed_hosts is None or not self.webhooks_allowed_hosts.strip():
            return None
        hosts = (h.strip().lower().strip("[]") for h in self.webhooks_allowed_hosts.split(","))
        return frozenset(h for h in hosts if h)

    @property
    def retry_schedule_s(self) -> tuple[float, ...]:
        """The waits between attempts: `5,300` means at most three attempts."""
        return tuple(float(p) for p in self.webhooks_retry_schedule.split(",") if p.strip())

    @property
    def embedded(self) -> bool:
        return self.redis_url is None
