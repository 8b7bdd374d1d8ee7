"""Admin console figures, printed as JSON.

    python -m loadtests.console_bench   # --lists N --megabytes M --rounds R

On its own redis-server and `vouchers serve` (one worker), with Debian's Chromium driven by
Playwright (as the browser tests drive it):
1. the Voucher Lists page with N lists (default 1,000): seconds from loading /admin, signed in,
   until the first page of 50 rows is on screen; with 500 rows a page, until the first 500 are
   shown and until the next 500 are (N lists on screen in two pages);
2. a file of M MiB (default 50, 1,000,000 codes at most) uploaded through the console's
   `Upload codes` until its page says the upload completed, beside the same file sent with
   curl and polled until completed. Each upload goes to a new list. The medians of R rounds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect, sync_playwright

from loadtests.harness import HEADERS, TOKEN, new_list, stack
from tests.console_browser import CHROMIUM, FLAGS

TIMEOUT_MS = 300_000


def big_file(folder: Path, megabytes: int) -> tuple[Path, int]:
    """A CSV of about `megabytes` MiB of distinct codes (at most a list's 1,000,000)."""
    codes = min(1_000_000, megabytes * 1024 * 1024 // 52)
    width = max(19, megabytes * 1024 * 1024 // codes - 1)  # one code a line, newline included
    path = folder / f"codes-{megabytes}mib.csv"
    with path.open("wb") as out:
        for n in range(codes):
            out.write(b"PV-%0*d\n" % (width - 3, n))
    return path, codes


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/admin")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Voucher Lists")).to_be_visible()


def lists_page(page: Page, url: str, lists: int) -> dict[str, float]:
    """Seconds until the Voucher Lists page shows its rows (a fresh load each time)."""
    started = time.perf_counter()
    page.goto(f"{url}/admin")  # a full load: the page, its script, /v1/me, then the rows
    expect(page.get_by_text("Page 1 · 50 lists shown")).to_be_visible(timeout=TIMEOUT_MS)
    first_50 = time.perf_counter() - started
    started = time.perf_counter()
    page.get_by_label("Rows per page").select_option("500")
    expect(page.get_by_text("Page 1 · 500 lists shown")).to_be_visible(timeout=TIMEOUT_MS)
    first_500 = time.perf_counter() - started
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text(f"Page 2 · {min(500, lists - 500)} lists shown")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    both = time.perf_counter() - started
    rows = page.get_by_role("table", name="Voucher lists").get_by_role("row").count() - 1
    return {"first_50_s": first_50, "first_500_s": first_500, "all_1000_s": both, "rows": rows}


def console_upload(page: Page, url: str, list_id: str, path: Path) -> float:
    page.goto(f"{url}/admin#/lists/{list_id}/uploads")
    expect(page.get_by_role("heading", name="Upload log")).to_be_visible()
    started = time.perf_counter()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload codes").click()
    chooser.value.set_files(path)
    done = page.get_by_role("status").filter(has_text=f"{path.name}: ")
    expect(done).to_contain_text("codes uploaded", timeout=TIMEOUT_MS)
    return time.perf_counter() - started


def curl_upload(url: str, list_id: str, path: Path) -> float:
    curl = shutil.which("curl") or "curl"
    started = time.perf_counter()
    auth = f"Authorization: Bearer {TOKEN}"
    sent = subprocess.run(
        [curl, "-sf", "-H", auth, "-F", f"file=@{path}", f"{url}/v1/lists/{list_id}/uploads"],
        capture_output=True,
        check=True,
    )
    upload = json.loads(sent.stdout)
    status = f"{url}/v1/lists/{list_id}/uploads/{upload['id']}"
    while httpx.get(status, headers=HEADERS).json()["status"] == "in_progress":
        time.sleep(0.05)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lists", type=int, default=1000)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    folder = Path(tempfile.mkdtemp(prefix="console-bench-"))
    path, codes = big_file(folder, args.megabytes)
    results["file"] = {"bytes": path.stat().st_size, "codes": codes}
    with stack(workers=1) as s, sync_playwright() as playwright:
        with httpx.Client(base_url=s.url, headers=HEADERS, timeout=60) as client:
            for _ in range(args.lists):
                new_list(client)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, s.url)
        pages = [lists_page(page, s.url, args.lists) for _ in range(args.rounds)]
        results["voucher_lists_page"] = {
            name: round(statistics.median(p[name] for p in pages), 3) for name in pages[0]
        }
        uploads: dict[str, list[float]] = {"console_s": [], "curl_s": []}
        with httpx.Client(base_url=s.url, headers=HEADERS, timeout=60) as client:
            for _ in range(args.rounds):
                uploads["console_s"].append(console_upload(page, s.url, new_list(client), path))
                uploads["curl_s"].append(curl_upload(s.url, new_list(client), path))
        results["upload"] = {k: round(statistics.median(v), 2) for k, v in uploads.items()}
        results["upload"]["_rounds"] = uploads
        browser.close()
    shutil.rmtree(folder)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
