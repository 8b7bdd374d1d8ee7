"""The admin console in a real browser (Debian's Chromium, driven by Playwright), against a real
`vouchers serve` on a real redis-server and on the embedded store (fakeredis). Tests act as a
user does: by visible names, labels and roles, waiting on what the page shows."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from app.config import Role
from tests.conftest import TOKENS
from tests.console_browser import launch, screenshot
from tests.service import Service, running_service, store_url, wait_for

CSV_WITH_ERRORS = "code\nGOOD-1\nGOOD-2\nGOOD-1\nBAD CODE\nGOOD-3\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture(scope="module", params=["redis", "fake"])
def svc(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    # a short retry schedule: a delivery to a closed port fails within a second
    quick = {"webhooks_retry_schedule": "0.05", "webhooks_interval_s": "0.05"}
    data = tmp_path_factory.mktemp("console") / "data"
    with running_service(store_url(request), data, **quick) as service:
        yield service


class Console:
    """The signed-in console, and the API beside it to set things up as another client would."""

    def __init__(self, page: Page, svc: Service) -> None:
        self.page, self.svc = page, svc

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.svc.call(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def partner(self) -> str:
        name = f"Brand {uuid.uuid4().hex[:6]}"
        self.api("POST", "/v1/partners", json={"name": name})
        return name

    def make_list(self, partner: str, tag: str, **fields: Any) -> dict[str, Any]:
        body = {"partner": partner, "tag": tag, "name": f"{partner} {tag}"}
        made: dict[str, Any] = self.api(
            "POST", "/v1/lists", json={"expires_at": "2099-01-01T00:00:00Z", **body, **fields}
        )
        return made

    def upload(self, list_id: str, text: str, name: str = "codes.csv") -> dict[str, Any]:
        made = self.api(
            "POST", f"/v1/lists/{list_id}/uploads", files={"file": (name, text.encode())}
        )
        path = f"/v1/lists/{list_id}/uploads/{made['id']}"
        wait_for(lambda: self.api("GET", path)["status"] != "in_progress", "the upload")
        found: dict[str, Any] = self.api("GET", path)
        return found

    def open(self, hash_: str = "#/lists") -> None:
        """Go to a page of the console, loaded afresh (a new hash alone would not reload)."""
        url = f"{self.svc.url}/admin{hash_}"
        if self.page.url == url:
            self.page.reload()
        else:
            self.page.goto(url)

    def lists_of(self, partner: str) -> None:
        self.open()
        self.page.get_by_label("Partner", exact=True).select_option(partner)

    def row(self, list_id: str) -> Any:
        return self.page.get_by_role("row").filter(
            has=self.page.get_by_role("link", name=list_id, exact=True)
        )

    def menu_items(self, list_id: str) -> list[str]:
        self.page.get_by_role("button", name=f"Actions for {list_id}").first.click()
        menu = self.page.get_by_role("menu", name=f"Actions for {list_id}")
        expect(menu).to_be_visible()
        items = menu.get_by_role("menuitem").all_inner_texts()
        self.page.keyboard.press("Escape")
        return items


def sign_in(page: Page, svc: Service, role: Role = "admin") -> None:
    page.goto(f"{svc.url}/admin")
    page.get_by_label("API token").fill(TOKENS[role])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Voucher Lists")).to_be_visible()


@pytest.fixture
def console(browser: Browser, svc: Service) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, svc)
    yield Console(page, svc)
    context.close()
    assert errors == []  # no script error on any page the test visited


def test_sign_in_refuses_a_wrong_token_and_keeps_the_token_out_of_urls_cookies_and_storage(
    browser: Browser, svc: Service
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{svc.url}/admin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "sign-in")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That token is not valid.")).to_be_visible()
    screenshot(page, "sign-in-refused")
    page.get_by_label("API token").fill(TOKENS["admin"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Voucher Lists")).to_be_visible()
    token = TOKENS["admin"]
    assert all(token not in url for url in [*requests, page.url])
    assert all(token not in c["value"] for c in context.cookies())
    assert page.evaluate("() => JSON.stringify(localStorage)") == "{}"
    assert token in page.evaluate("() => JSON.stringify(sessionStorage)")
    # another tab of the same browser starts signed out
    other = context.new_page()
    other.goto(f"{svc.url}/admin")
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate("() => JSON.stringify(sessionStorage)") == "{}"
    context.close()


def test_the_page_is_served_with_a_policy_that_allows_no_inline_script(svc: Service) -> None:
    response = httpx.get(f"{svc.url}/admin")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "<script>" not in response.text  # only <script src=...>
    assert httpx.get(f"{svc.url}/admin/console.js").status_code == 200
    for path in ("/admin/..%2Fcli.py", "/admin/routes.py", "/admin/index.html", "/admin/"):
        missing = httpx.get(svc.url + path)
        assert missing.status_code == 404, path
        assert missing.json()["error"]["code"] == "route_not_found"


def test_the_table_shows_a_list_made_through_the_api_with_its_counts(console: Console) -> None:
    partner = console.partner()
    made = console.make_list(partner, "summer")
    console.upload(made["id"], "a1\na2\na3\na4\n")
    console.api("PUT", f"/v1/lists/{made['id']}/campaigns/spring-sale")
    console.api(
        "POST",
        "/v1/allocations",
        json={"list_id": made["id"], "campaign_id": "spring-sale", "user_id": "u1"},
    )
    console.lists_of(partner)
    row = console.row(made["id"])
    expect(row).to_have_count(1)
    cells = row.get_by_role("cell").all_inner_texts()
    assert cells[:3] == [made["id"], partner, "summer"]
    assert cells[4:8] == ["Active", "1", "4", "1"]
    headers = console.page.get_by_role("columnheader").all_inner_texts()
    assert headers[:8] == [
        "LIST ID",
        "PARTNER",
        "LIST TAG",
        "UPDATED ON",
        "STATUS",
        "LINKED PROMO CAMPAIGNS",
        "CODES UPLOADED",
        "CODES DISTRIBUTED",
    ]
    screenshot(console.page, "voucher-lists")
    console.page.get_by_role("link", name=made["id"], exact=True).click()
    expect(console.page.get_by_role("heading", name=made["name"])).to_be_visible()
    expect(console.page.get_by_role("tab", name="Details")).to_have_attribute(
        "aria-selected", "true"
    )
    stats = console.page.locator(".stat").all_inner_texts()
    assert [s.split("\n") for s in stats] == [
        ["Codes uploaded", "4"],
        ["Codes distributed", "1"],
        ["Codes available", "3"],
        ["Low-stock threshold", "None"],
    ]
    screenshot(console.page, "list-details")


def test_the_row_menu_shows_exactly_the_allowed_actions_per_status(console: Console) -> None:
    partner = console.partner()
    active = console.make_list(partner, "active")
    paused = console.make_list(partner, "paused")
    console.api("POST", f"/v1/lists/{paused['id']}/pause")
    archived = console.make_list(partner, "archived")
    console.api("POST", f"/v1/lists/{archived['id']}/archive")
    linked = console.make_list(partner, "linked")
    console.api("PUT", f"/v1/lists/{linked['id']}/campaigns/c1")
    expired = console.make_list(partner, "expired")
    moment = datetime.now(UTC) + timedelta(seconds=1.5)
    console.api("PATCH", f"/v1/lists/{expired['id']}", json={"expires_at": moment.isoformat()})
    wait_for(
        lambda: console.api("GET", f"/v1/lists/{expired['id']}")["status"] == "expired",
        "the list to expire",
    )
    console.lists_of(partner)
    expect(console.row(expired["id"])).to_contain_text("Expired")
    assert console.menu_items(active["id"]) == [
        "Pause",
        "Edit",
        "Upload Codes",
        "Archive",
        "Delete",
    ]
    assert console.menu_items(paused["id"]) == [
        "Activate",
        "Edit",
        "Upload Codes",
        "Archive",
        "Delete",
    ]
    assert console.menu_items(linked["id"]) == ["Pause", "Edit", "Upload Codes", "Archive"]
    assert console.menu_items(expired["id"]) == ["Edit", "Archive", "Delete"]
    expect(
        console.row(archived["id"]).get_by_role("button", name=re.compile("Actions for"))
    ).to_have_count(0)
    console.page.get_by_role("button", name=f"Actions for {active['id']}").click()
    screenshot(console.page, "row-menu")
    console.page.keyboard.press("Escape")
    expect(console.page.get_by_role("menu")).to_have_count(0)


def test_create_edit_pause_activate_archive_and_delete_through_the_ui(console: Console) -> None:
    partner = console.partner()
    page = console.page
    console.open()
    page.get_by_role("button", name="Create list").click()
    dialog = page.get_by_role("dialog", name="Create list")
    dialog.get_by_label("Partner").select_option(partner)
    dialog.get_by_label("List tag").fill("has space")
    dialog.get_by_label("Name").fill("Winter codes")
    dialog.get_by_label("Expiry").fill("2099-03-01T10:00")
    dialog.get_by_role("button", name="Create list").click()
    # the API's message, next to the field it is about
    expect(dialog.locator("#f-tag-error")).to_contain_text("whitespace")
    expect(dialog.get_by_label("List tag")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "create-list-error")
    dialog.get_by_label("List tag").fill("Winter")
    dialog.get_by_role("button", name="Create list").click()
    expect(dialog).to_have_count(0)
    lists = console.api("GET", "/v1/lists", params={"partner": partner})["items"]
    (made,) = lists
    assert (made["tag"], made["name"], made["status"]) == ("winter", "Winter codes", "active")
    console.lists_of(partner)
    row = console.row(made["id"])
    expect(row).to_contain_text("Active")

    page.get_by_role("button", name=f"Actions for {made['id']}").click()
    page.get_by_role("menuitem", name="Edit").click()
    edit = page.get_by_role("dialog", name=f"Edit {made['id']}")
    edit.get_by_label("Name").fill("")
    edit.get_by_role("button", name="Save").click()
    expect(edit.locator("#f-name-error")).not_to_be_empty()
    edit.get_by_label("Name").fill("Winter codes 2099")
    edit.get_by_label("Low-stock threshold").fill("5")
    screenshot(page, "edit-list")
    edit.get_by_role("button", name="Save").click()
    expect(edit).to_have_count(0)
    got = console.api("GET", f"/v1/lists/{made['id']}")
    assert (got["name"], got["low_stock_threshold"]) == ("Winter codes 2099", 5)

    for action, status in (("Pause", "Paused"), ("Activate", "Active")):
        page.get_by_role("button", name=f"Actions for {made['id']}").click()
        page.get_by_role("menuitem", name=action).click()
        expect(row).to_contain_text(status)
    assert console.api("GET", f"/v1/lists/{made['id']}")["status"] == "active"

    page.get_by_role("button", name=f"Actions for {made['id']}").click()
    page.get_by_role("menuitem", name="Archive").click()
    page.get_by_role("dialog", name=f"Archive {made['id']}?").get_by_role(
        "button", name="Archive"
    ).click()
    expect(row).to_contain_text("Archived")
    assert console.api("GET", f"/v1/lists/{made['id']}")["status"] == "archived"

    other = console.make_list(partner, "spare")
    console.lists_of(partner)
    page.get_by_role("button", name=f"Actions for {other['id']}").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("dialog", name=f"Delete {other['id']}?").get_by_role(
        "button", name="Delete"
    ).click()
    expect(console.row(other["id"])).to_have_count(0)
    assert console.svc.call("GET", f"/v1/lists/{other['id']}").status_code == 404


def test_an_upload_with_errors_shows_its_counts_and_error_file(
    console: Console, tmp_path: Path
) -> None:
    partner = console.partner()
    made = console.make_list(partner, "upload")
    page = console.page
    console.open(f"#/lists/{made['id']}/uploads")
    expect(page.get_by_role("tab", name="Uploads")).to_have_attribute("aria-selected", "true")
    source = tmp_path / "partner codes.csv"
    source.write_text(CSV_WITH_ERRORS)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload codes").click()
    chooser.value.set_files(source)
    expect(page.get_by_role("status").filter(has_text="partner codes.csv:")).to_have_text(
        "partner codes.csv: 3 of 5 codes uploaded, 2 rejected."
    )
    row = page.get_by_role("row").filter(has_text="partner codes.csv")
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("3 / 5")
    expect(row).to_contain_text("duplicate_in_file 1")
    expect(row).to_contain_text("invalid_characters 1")
    expect(row).to_contain_text("admin@example.com")
    screenshot(page, "uploads")
    with page.expect_download() as download:
        row.get_by_role("button", name="Error file").click()
    errors = Path(download.value.path()).read_text()
    assert errors.splitlines()[0] == "row,code,error_code,message"
    assert [line.split(",")[2] for line in errors.splitlines()[1:]] == [
        "duplicate_in_file",
        "invalid_characters",
    ]
    with page.expect_download() as original:
        row.get_by_role("button", name="Original file").click()
    assert Path(original.value.path()).read_text() == CSV_WITH_ERRORS
    page.get_by_role("tab", name="Details").click()
    expect(page.locator(".stat").first).to_contain_text("3")

    # a file the service refuses as a whole: the reason, in words
    bad = tmp_path / "codes.txt"
    bad.write_text("X1\n")
    page.get_by_role("tab", name="Uploads").click()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload codes").click()
    chooser.value.set_files(bad)
    expect(page.get_by_role("status").filter(has_text="codes.txt")).to_have_text(
        "codes.txt failed: not_csv."
    )


def test_link_and_unlink_a_campaign(console: Console) -> None:
    made = console.make_list(console.partner(), "links")
    page = console.page
    console.open(f"#/lists/{made['id']}/campaigns")
    page.get_by_label("Campaign ID").fill("bad id!")
    page.get_by_role("button", name="Link campaign").click()
    expect(page.locator("#campaign-id-error")).not_to_be_empty()
    page.get_by_label("Campaign ID").fill("summer-sale")
    page.get_by_role("button", name="Link campaign").click()
    expect(page.get_by_role("cell", name="summer-sale", exact=True)).to_be_visible()
    links = console.api("GET", f"/v1/lists/{made['id']}/campaigns")["items"]
    assert [link["campaign_id"] for link in links] == ["summer-sale"]
    screenshot(page, "campaigns")
    page.get_by_role("button", name="Unlink summer-sale").click()
    expect(page.get_by_text("No campaign uses this list.")).to_be_visible()
    assert console.api("GET", f"/v1/lists/{made['id']}/campaigns")["items"] == []


def test_look_up_an_allocated_code_and_export_the_allocations(console: Console) -> None:
    made = console.make_list(console.partner(), "lookup")
    console.upload(made["id"], "C.1\nC/2\n")
    console.api("PUT", f"/v1/lists/{made['id']}/campaigns/c1")
    given = console.api(
        "POST",
        "/v1/allocations",
        json={"list_id": made["id"], "campaign_id": "c1", "user_id": "u-7"},
    )
    later = console.api(
        "POST",
        "/v1/allocations",
        json={"list_id": made["id"], "campaign_id": "c1", "user_id": "u-8"},
    )
    page = console.page
    console.open(f"#/lists/{made['id']}/allocations")
    rows = page.get_by_role("table", name="Allocations").get_by_role("row")
    expect(rows).to_have_count(3)  # the header and two allocations, newest first
    assert rows.nth(1).get_by_role("cell").first.inner_text() == later["voucher_code"]
    assert rows.nth(2).get_by_role("cell").first.inner_text() == given["voucher_code"]
    page.get_by_label("Voucher code").fill(given["voucher_code"])
    page.get_by_role("button", name="Look up").click()
    result = page.locator("#lookup-result")
    expect(result).to_contain_text("Issued")
    expect(result).to_contain_text("u-7")
    screenshot(page, "allocations")
    page.get_by_label("Voucher code").fill("NOPE")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#lookup-code-error")).to_contain_text("not")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    exported = Path(download.value.path()).read_bytes()
    assert exported == console.svc.call("GET", f"/v1/lists/{made['id']}/allocations.csv").content


def test_create_a_webhook_and_see_its_secret_once(console: Console) -> None:
    page = console.page
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    page.get_by_role("button", name="Create webhook").click()
    dialog = page.get_by_role("dialog", name="Create webhook")
    dialog.get_by_label("URL").fill("http://10.0.0.1/hook")  # refused: a private address
    dialog.get_by_role("button", name="Create webhook").click()
    expect(dialog.locator("#f-url-error")).not_to_be_empty()
    dialog.get_by_label("URL").fill("http://127.0.0.1:9/hook")
    dialog.get_by_label("Voucher List Low").uncheck()
    dialog.get_by_label("Template").fill("{% if %}")
    dialog.get_by_role("button", name="Create webhook").click()
    expect(dialog.locator("#f-template-error")).to_contain_text("line 1")
    dialog.get_by_label("Template").fill("Hi {{ event.user_id }}: {{ voucherCode }}")
    dialog.get_by_role("button", name="Create webhook").click()
    expect(dialog).to_have_count(0)
    secret = page.locator("#webhook-secret")
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    screenshot(page, "webhooks")
    (made,) = [
        e for e in console.api("GET", "/v1/webhooks")["items"] if e["url"].endswith(":9/hook")
    ]
    assert made["events"] == ["Partner Voucher Rewarded", "Voucher List Exhausted"]
    assert "secret" not in made
    page.reload()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    expect(page.locator("#webhook-secret")).to_have_count(0)
    page.get_by_role("link", name=made["url"]).click()
    expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
    expect(page.locator("#webhook-secret")).to_have_count(0)
    page.get_by_role("button", name="Preview template").click()
    preview = page.get_by_role("dialog", name="Preview a template")
    preview.get_by_role("button", name="Preview").click()
    expect(preview.locator("#preview-output")).to_have_text(re.compile(r"^Hi .+: \S+$"))
    screenshot(page, "webhook-preview")
    preview.get_by_role("button", name="Cancel").click()

    # a reward sent to the closed port fails; the log shows it and Retry tries it again
    stocked = console.make_list(console.partner(), "hooked")
    console.upload(stocked["id"], "H1\nH2\n")  # not exhausted: one event
    console.api("PUT", f"/v1/lists/{stocked['id']}/campaigns/c1")
    console.api(
        "POST",
        "/v1/allocations",
        json={"list_id": stocked["id"], "campaign_id": "c1", "user_id": "u"},
    )
    log = f"/v1/webhooks/{made['id']}/deliveries"

    def failed() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = console.api("GET", log, params={"status": "failed"})["items"]
        return items

    wait_for(lambda: len(failed()) == 1, "the delivery to fail")
    (delivery,) = failed()
    assert delivery["attempts"] == 2
    page.reload()
    row = page.get_by_role("row").filter(has_text=delivery["event_id"])
    expect(row).to_contain_text("Failed")
    screenshot(page, "webhook-deliveries")
    row.get_by_role("button", name=f"Retry {delivery['id']}").click()
    expect(page.get_by_role("status").filter(has_text="Queued")).to_be_visible()
    wait_for(lambda: failed() and failed()[0]["attempts"] == 3, "the retried attempt")
    console.api("DELETE", f"/v1/webhooks/{made['id']}")


def test_a_viewer_sees_no_actions(browser: Browser, svc: Service) -> None:
    admin = Console(browser.new_page(), svc)
    partner = admin.partner()
    made = admin.make_list(partner, "viewer")
    admin.upload(made["id"], "V1\nV2\n")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, svc, "viewer")
    viewer = Console(page, svc)
    viewer.lists_of(partner)
    expect(viewer.row(made["id"])).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("Actions for"))).to_have_count(0)
    expect(page.get_by_role("button", name="Create list")).to_have_count(0)
    screenshot(page, "viewer-lists")
    viewer.open(f"#/lists/{made['id']}/uploads")
    expect(page.get_by_role("heading", name="Upload log")).to_be_visible()
    expect(page.get_by_role("button", name="Upload codes")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="codes.csv")).to_contain_text("2 / 2")
    expect(page.get_by_role("button", name="Original file")).to_have_count(0)  # codes inside
    viewer.open(f"#/lists/{made['id']}/campaigns")
    expect(page.get_by_role("button", name="Link campaign")).to_have_count(0)
    viewer.open(f"#/lists/{made['id']}/allocations")
    expect(page.get_by_text("may not see")).to_be_visible()
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("managed with an admin token")).to_be_visible()
    context.close()
    admin.page.close()


def test_markup_in_a_value_shows_as_text_and_runs_nothing(console: Console) -> None:
    partner = console.partner()
    evil = "<img src=x onerror=alert(1)>"
    made = console.make_list(partner, "xss", name=evil, description=evil)
    page = console.page
    dialogs: list[str] = []

    def dismiss(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dismiss)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    console.open(f"#/lists/{made['id']}")
    expect(page.get_by_role("heading", name=evil)).to_be_visible()
    expect(page.get_by_text(evil).first).to_be_visible()
    assert page.locator("img").count() == 0
    screenshot(page, "markup-as-text")
    assert dialogs == []
    assert not [url for url in requests if url.endswith("/x")]


def test_the_lists_page_pages_through_many_lists_without_a_request_per_row(
    console: Console,
) -> None:
    partner = console.partner()
    for n in range(60):
        console.make_list(partner, f"t{n:02d}")
    page = console.page
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/v1/" in r.url else None)
    console.lists_of(partner)
    expect(page.get_by_text("Page 1 · 50 lists shown")).to_be_visible()
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2 · 10 lists shown")).to_be_visible()
    page.get_by_role("button", name="Previous page").click()
    expect(page.get_by_text("Page 1 · 50 lists shown")).to_be_visible()
    list_calls = [c for c in calls if "/v1/lists" in c]
    assert len(list_calls) <= 5  # one a page (and the filter's first), never one per row
