"""What the limits a long-lived store reaches cost, through the HTTP API of a real service:

- one user who earns 50,000 codes (an Idempotency-Key each), one request at a time: Redis
  script time per allocation (its script and the relay's copy of its event, INFO
  commandstats) over the user's first and last thousand (target: within 20 %);
- deleting a list with 10,000 uploads: the DELETE's time, and the longest single Redis
  command meanwhile (SLOWLOG);
- a list with 10,000 campaign links: the refused DELETE (409) and reading every link;
- 100,000 lists: reading the first and the last page of 500 (by cursor).

    python -m loadtests.limits_bench          # --user-codes N --uploads N --links N --lists N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import redis

from app.config import Settings
from app.domain.lists import ListId
from app.store.connection import connect
from app.store.store import Store
from loadtests import seeding
from loadtests.harness import HEADERS, new_list, stack
from loadtests.loadgen import script_stats

WINDOW = 1000  # allocations per measured window


def seeded(redis_port: int, seed: Callable[[Store], Any]) -> Any:
    """Run a seeding coroutine on a Store of the benchmark's Redis."""

    async def run() -> Any:
        client = connect(Settings(redis_url=f"redis://127.0.0.1:{redis_port}/0"))
        try:
            return await seed(Store(client, "pv"))
        finally:
            await client.aclose()

    return asyncio.run(run())


def timed(call: Callable[[], httpx.Response], expect: int) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call()
    took = time.perf_counter() - started
    assert response.status_code == expect, response.text
    return took, response


def one_user(client: httpx.Client, r: redis.Redis, codes: int) -> dict[str, Any]:
    list_id = new_list(client)
    content = "".join(f"U-{n:07d}\n" for n in range(codes)).encode()
    upload = client.post(
        f"/v1/lists/{list_id}/uploads", files={"file": ("u.csv", content, "text/csv")}
    ).json()
    while client.get(f"/v1/lists/{list_id}/uploads/{upload['id']}").json()["status"] != (
        "completed"
    ):
        time.sleep(0.1)
    client.put(f"/v1/lists/{list_id}/campaigns/c1")
    body = {"list_id": list_id, "campaign_id": "c1", "user_id": "heavy-user"}
    windows: list[float] = []
    for start in range(0, codes, WINDOW):
        usec = script_stats(r)[1]
        for n in range(start, start + WINDOW):
            key = {"Idempotency-Key": f"reward-{n}"}
            assert client.post("/v1/allocations", json=body, headers=key).status_code == 201
        windows.append((script_stats(r)[1] - usec) / WINDOW)
    first, last = windows[0], windows[-1]
    return {
        "codes": codes,
        "redis_us_per_allocation_first_1000": round(first, 2),
        "redis_us_per_allocation_last_1000": round(last, 2),
        "last_vs_first": round(last / first, 3),
        "within_20_percent": abs(last / first - 1) <= 0.20,
        "every_window_us": [round(w, 1) for w in windows[:: max(1, len(windows) // 10)]],
    }


def longest_command_us(r: redis.Redis) -> int:
    entries = r.slowlog_get(128)
    return max((int(e["duration"]) for e in entries), default=0)


def many_uploads(client: httpx.Client, r: redis.Redis, port: int, n: int) -> dict[str, Any]:
    list_id = new_list(client)
    seeded(port, lambda store: seeding.uploads(store, ListId(list_id), n))
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    took, _ = timed(lambda: client.delete(f"/v1/lists/{list_id}"), 204)
    longest = longest_command_us(r)
    r.config_set("slowlog-log-slower-than", 10_000)
    left = sum(1 for _ in r.scan_iter(match=f"*{list_id.split('.', 1)[1]}*", count=1000))
    return {
        "uploads": n,
        "delete_s": round(took, 3),
        "longest_redis_command_us": longest,
        "keys_left": left,
    }


def many_links(client: httpx.Client, port: int, n: int) -> dict[str, Any]:
    list_id = new_list(client)
    seeded(port, lambda store: seeding.links(store, ListId(list_id), n))
    refused_s, refused = timed(lambda: client.delete(f"/v1/lists/{list_id}"), 409)
    details = refused.json()["error"]["details"]
    started, seen, cursor = time.perf_counter(), 0, None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/lists/{list_id}/campaigns", params=params).json()
        seen += len(page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    return {
        "links": n,
        "refused_delete_s": round(refused_s, 4),
        "refusal_names": len(details["campaign_ids"]),
        "refusal_count": details["linked_campaigns"],
        "read_every_link_s": round(time.perf_counter() - started, 3),
        "links_read": seen,
    }


def many_lists(client: httpx.Client, port: int, n: int) -> dict[str, Any]:
    """Every page of 500 by cursor; the first and the last full one (the lists the other
    parts made come last, on a short page)."""
    seeded(port, lambda store: seeding.lists(store, "Many", n))
    times: list[float] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        took, page = timed(partial(client.get, "/v1/lists", params=params), 200)
        if len(page.json()["items"]) == 500:
            times.append(took)
        if (cursor := page.json()["next_cursor"]) is None:
            break
    return {
        "lists": n,
        "full_pages_of_500": len(times),
        "first_page_s": round(times[0], 4),
        "last_full_page_s": round(times[-1], 4),
        "median_page_s": round(sorted(times)[len(times) // 2], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user-codes", type=int, default=50_000)
    parser.add_argument("--uploads", type=int, default=10_000)
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--lists", type=int, default=100_000)
    args = parser.parse_args()
    with stack() as running:
        r = redis.Redis(port=running.redis_port)
        port = running.redis_port
        with httpx.Client(base_url=running.url, headers=HEADERS, timeout=120) as client:
            results = {
                "one_user": one_user(client, r, args.user_codes),
                "delete_many_uploads": many_uploads(client, r, port, args.uploads),
                "many_links": many_links(client, port, args.links),
                "many_lists": many_lists(client, port, args.lists),
            }
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
