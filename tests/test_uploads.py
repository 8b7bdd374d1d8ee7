"""Uploads through the HTTP API: dedupe rules, every error code, the upload log and files."""

from __future__ import annotations

import asyncio
import stat
from collections import Counter
from typing import Any, cast

import pytest

from app.config import Settings
from app.domain.lists import ListId
from app.store.connection import Client
from app.store.keys import Keys
from tests.conftest import Api, all_pages, open_api, until_store_time
from tests.state import Clock, dump

HEADER = "row,code,error_code,message\r\n"


async def codes_of(api: Api, list_id: str) -> tuple[set[str], set[str]]:
    """The list's (avail, dedupe) sets, straight from Redis."""
    keys = Keys("pv").list(ListId(list_id))
    avail = cast(set[str], await api.redis.smembers(keys.avail))
    dedupe = cast(set[str], await api.redis.smembers(keys.dedupe))
    return avail, dedupe


async def counts(api: Api, list_id: str) -> tuple[int, int, int]:
    body = (await api.get(f"/v1/lists/{list_id}")).json()
    return body["codes_uploaded"], body["codes_distributed"], body["codes_available"]


async def test_upload_adds_codes_and_logs_it(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    accepted = await api.upload(made["id"], b"A1\nA2\nA3\n", wait=False)
    assert accepted["status"] == "in_progress"
    assert accepted["uploaded_by"] == "admin@example.com"
    assert accepted["finished_at"] is None
    await api.app.state.uploads.drain()
    done = (await api.get(f"/v1/lists/{made['id']}/uploads/{accepted['id']}")).json()
    assert done == {
        **accepted,
        "status": "completed",
        "finished_at": done["finished_at"],
        "codes_total": 3,
        "codes_uploaded": 3,
        "error_count": 0,
        "errors": [],
    }
    assert await counts(api, made["id"]) == (3, 0, 3)
    assert await codes_of(api, made["id"]) == ({"A1", "A2", "A3"}, {"A1", "A2", "A3"})
    assert await api.errors_file(made["id"], done["id"]) == HEADER


async def test_the_products_dedupe_table(api: Api) -> None:
    """PRODUCT.md's example scenarios, List A to List E."""
    await api.make_partner("Partner A")
    await api.make_partner("Partner B")
    codes = b"Code1\nCode2\nCode3\n"
    list_a = await api.make_list("Partner A", "tag-a")
    assert (await api.upload(list_a["id"], codes))["codes_uploaded"] == 3
    list_b = await api.make_list("Partner A", "tag-b")  # different tag, same partner
    assert (await api.upload(list_b["id"], b"Code1\nCode4\nCode5\n"))["codes_uploaded"] == 3
    list_c = await api.make_list("Partner B", "tag-a")  # different partner, same tag
    assert (await api.upload(list_c["id"], codes))["codes_uploaded"] == 3
    list_d = await api.post(
        "/v1/lists",
        json={  # same partner and tag: refused
            "partner": "Partner A",
            "tag": "TAG-A",
            "name": "D",
            "expires_at": "2099-01-01T00:00:00Z",
        },
    )
    assert list_d.status_code == 409
    assert list_d.json()["error"]["code"] == "tag_in_use"
    top_up = await api.upload(list_a["id"], codes)  # the same codes again into List A
    assert (top_up["codes_uploaded"], top_up["errors"]) == (
        0,
        [{"code": "duplicate_code", "count": 3}],
    )
    await api.post(f"/v1/lists/{list_a['id']}/archive")
    list_e = await api.make_list("Partner A", "tag-a")  # List A archived: allowed again
    assert (await api.upload(list_e["id"], codes))["codes_uploaded"] == 3
    assert await counts(api, list_a["id"]) == (3, 0, 3)  # the archived list keeps its counts


async def test_every_row_error_with_exact_counts_and_error_file(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.upload(made["id"], b"OLD1\nOLD2\n")
    content = (
        "\ufeffVoucher_Code\r\n"  # 1: header
        "NEW1\r\n"  # 2
        "OLD1\r\n"  # 3: duplicate_code
        "NEW1\r\n"  # 4: duplicate_in_file
        "\r\n"  # 5: blank, ignored
        "has space\r\n"  # 6: invalid_characters
        f"{'L' * 101}\r\n"  # 7: code_too_long
        "  NEW2  \r\n"  # 8: fine once trimmed
        "bell\x07\r\n"  # 9: invalid_characters
        "OLD2\r\n"  # 10: duplicate_code
        '"NEW3"\r\n'  # 11: quoted
    ).encode()
    done = await api.upload(made["id"], content)
    assert done["status"] == "completed"
    assert (done["codes_total"], done["codes_uploaded"], done["error_count"]) == (9, 3, 6)
    assert done["errors"] == [
        {"code": "code_too_long", "count": 1},
        {"code": "duplicate_code", "count": 2},
        {"code": "duplicate_in_file", "count": 1},
        {"code": "invalid_characters", "count": 2},
    ]
    assert await api.errors_file(made["id"], done["id"]) == HEADER + (
        "3,OLD1,duplicate_code,The code is already in this partner and tag's list.\r\n"
        "4,NEW1,duplicate_in_file,The code appears earlier in this file.\r\n"
        '6,has space,invalid_characters,"The code holds whitespace, control or non-printable'
        ' characters."\r\n'
        f"7,{'L' * 101},code_too_long,The code is longer than 100 characters.\r\n"
        '9,bell\ufffd,invalid_characters,"The code holds whitespace, control or non-printable'
        ' characters."\r\n'
        "10,OLD2,duplicate_code,The code is already in this partner and tag's list.\r\n"
    )
    avail, dedupe = await codes_of(api, made["id"])
    assert avail == dedupe == {"OLD1", "OLD2", "NEW1", "NEW2", "NEW3"}
    assert await counts(api, made["id"]) == (5, 0, 5)


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
FILE_ERRORS: list[tuple[str, str, bytes, str]] = [
    ("not_csv", "codes.txt", b"A1\n", ""),
    ("not_csv", "codes", b"A1\n", ""),
    ("multiple_columns", "codes.csv", b"A1\nA2,extra\nA3\n", "2"),
    ("not_utf8", "codes.csv", b"A1\nA\xff2\n", "2"),
    ("empty_file", "codes.csv", b"", ""),
    ("empty_file", "codes.csv", b"code\n\n\r\n", ""),
    ("not_utf8", "codes.csv", PNG, "1"),  # binary
    ("not_utf8", "codes.csv", "A1\r\nA2\r\n".encode("utf-16"), "1"),
    ("invalid_quoting", "codes.csv", b'A1\n"A2\nA3\n', "2"),  # a quote left open
    ("invalid_quoting", "codes.csv", b'A1\n"A2"x\n', "2"),  # text after the closing quote
]


@pytest.mark.parametrize(
    ("error", "name", "content", "row"),
    FILE_ERRORS,
    ids=[f"{e[0]}-{e[1]}-{len(e[2])}" for e in FILE_ERRORS],
)
async def test_file_level_errors_add_nothing(
    api: Api, error: str, name: str, content: bytes, row: str
) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.upload(made["id"], b"KEEP\n")
    before_codes = await codes_of(api, made["id"])
    done = await api.upload(made["id"], content, name=name)
    assert done["status"] == "failed"
    assert done["errors"] == [{"code": error, "count": 1}]
    assert (done["codes_uploaded"], done["error_count"]) == (0, 0)
    assert done["finished_at"] is not None
    assert await codes_of(api, made["id"]) == before_codes
    assert await counts(api, made["id"]) == (1, 0, 1)
    errors = await api.errors_file(made["id"], done["id"])
    assert errors.startswith(HEADER + f"{row},,{error},")
    file = await api.get(f"/v1/lists/{made['id']}/uploads/{done['id']}/file")
    assert file.content == content


async def test_list_full_counts_fresh_codes_only(
    redis_client: Client, settings: Settings, clock: Clock
) -> None:
    async with open_api(
        redis_client, settings.model_copy(update={"max_codes_per_list": 5}), clock
    ) as api:
        await api.make_partner()
        made = await api.make_list()
        assert (await api.upload(made["id"], b"A\nB\nC\n"))["codes_uploaded"] == 3
        # 2 fresh codes fit; the known ones do not count against the limit
        fits = await api.upload(made["id"], b"A\nB\nC\nD\nE\n")
        assert (fits["status"], fits["codes_uploaded"]) == ("completed", 2)
        full = await api.upload(made["id"], b"A\nF\n")
        assert full["status"] == "failed"
        assert full["errors"] == [{"code": "list_full", "count": 1}]
        assert await counts(api, made["id"]) == (5, 0, 5)
        assert await api.errors_file(made["id"], full["id"]) == (
            HEADER + ',,list_full,"The list would pass 1,000,000 uploaded codes."\r\n'
        )


async def test_concurrent_uploads_never_pass_the_limit(
    redis_client: Client, settings: Settings, clock: Clock
) -> None:
    async with open_api(
        redis_client, settings.model_copy(update={"max_codes_per_list": 100}), clock
    ) as api:
        await api.make_partner()
        made = await api.make_list()
        files = [("\n".join(f"F{i}-{n}" for n in range(40))).encode() for i in range(5)]
        accepted = await asyncio.gather(*(api.upload(made["id"], f, wait=False) for f in files))
        await api.app.state.uploads.drain()
        finals = [
            (await api.get(f"/v1/lists/{made['id']}/uploads/{a['id']}")).json() for a in accepted
        ]
        assert Counter(f["status"] for f in finals) == {"completed": 2, "failed": 3}
        assert await counts(api, made["id"]) == (80, 0, 80)
        meta = await api.redis.hgetall(Keys("pv").list(ListId(made["id"])).meta)
        assert meta["reserved"] == "0"


async def test_two_overlapping_uploads_at_once_add_each_code_once(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    first = "\n".join(f"C{n}" for n in range(0, 12_000)).encode()
    second = "\n".join(f"C{n}" for n in range(6_000, 18_000)).encode()
    accepted = await asyncio.gather(
        api.upload(made["id"], first, wait=False), api.upload(made["id"], second, wait=False)
    )
    await api.app.state.uploads.drain()
    finals = [(await api.get(f"/v1/lists/{made['id']}/uploads/{a['id']}")).json() for a in accepted]
    assert [f["status"] for f in finals] == ["completed", "completed"]
    assert sum(f["codes_uploaded"] for f in finals) == 18_000
    assert sum(f["error_count"] for f in finals) == 6_000
    assert all(
        f["errors"] in ([], [{"code": "duplicate_code", "count": f["error_count"]}]) for f in finals
    )
    avail, dedupe = await codes_of(api, made["id"])
    assert avail == dedupe == {f"C{n}" for n in range(18_000)}
    assert await counts(api, made["id"]) == (18_000, 0, 18_000)


async def test_top_up_to_a_paused_list_and_refusals_by_status(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.post(f"/v1/lists/{made['id']}/pause")
    assert (await api.upload(made["id"], b"P1\n"))["codes_uploaded"] == 1
    for setup, status in (("archive", "archived"),):
        await api.post(f"/v1/lists/{made['id']}/{setup}")
        before = await dump(api.redis)
        response = await api.post(
            f"/v1/lists/{made['id']}/uploads", files={"file": ("a.csv", b"Z\n", "text/csv")}
        )
        assert response.status_code == 409
        assert response.json()["error"] == {
            "code": "list_not_uploadable",
            "message": response.json()["error"]["message"],
            "details": {"status": status},
        }
        assert await dump(api.redis) == before
    expiring = await api.make_list("Acme", "exp")
    await api.expire(expiring["id"])
    response = await api.post(
        f"/v1/lists/{expiring['id']}/uploads", files={"file": ("a.csv", b"Z\n", "text/csv")}
    )
    assert response.json()["error"]["details"] == {"status": "expired"}


async def test_bad_upload_requests_change_nothing(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    path = f"/v1/lists/{made['id']}/uploads"
    before = await dump(api.redis)
    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {"content": b"A1\n", "headers": {"Content-Type": "text/csv"}},
            415,
            "unsupported_media_type",
        ),
        ({"json": {"file": "A1"}}, 415, "unsupported_media_type"),
        ({"files": {"other": ("a.csv", b"A1\n")}}, 422, "validation_error"),
        ({"data": {"file": "A1"}, "files": {"x": ("a.csv", b"")}}, 422, "validation_error"),
        (
            {"files": [("file", ("a.csv", b"A\n")), ("file", ("b.csv", b"B\n"))]},
            422,
            "validation_error",
        ),
        ({"files": {"file": ("x" * 300 + ".csv", b"A1\n")}}, 422, "validation_error"),
        (
            {
                "content": b"--xyz\r\nnot multipart at all",
                "headers": {"Content-Type": "multipart/form-data; boundary=xyz"},
            },
            400,
            "malformed_body",
        ),
        *(
            (  # cut short: no closing boundary, so the file may be incomplete
                {
                    "content": b"--xyz\r\nContent-Disposition: form-data; name=file; "
                    b'filename="a.csv"\r\n\r\nA1\nA2\n' + ending,
                    "headers": {"Content-Type": "multipart/form-data; boundary=xyz"},
                },
                400,
                "malformed_body",
            )
            for ending in (b"", b"\r\n--xyz", b"\r\n--xyz-")
        ),
    ]
    for kwargs, status, code in cases:
        response = await api.post(path, **kwargs)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), kwargs
    assert await dump(api.redis) == before
    assert not list((api.app.state.files.root / made["id"]).glob("*"))


async def test_over_50_mib_is_413_and_nothing_is_kept(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    before = await dump(api.redis)
    big = b"A" * (50 * 1024 * 1024 + 1)
    response = await api.post(
        f"/v1/lists/{made['id']}/uploads", files={"file": ("big.csv", big, "text/csv")}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert await dump(api.redis) == before
    assert not list((api.app.state.files.root / made["id"]).glob("*"))


async def test_a_huge_single_line_file_is_one_rejected_row(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.upload(made["id"], b"KEEP\n")
    before_codes = await codes_of(api, made["id"])
    done = await api.upload(made["id"], b"x" * (50 * 1024 * 1024))  # the largest file allowed
    assert (done["status"], done["codes_total"], done["codes_uploaded"]) == ("completed", 1, 0)
    assert done["errors"] == [{"code": "code_too_long", "count": 1}]
    assert await codes_of(api, made["id"]) == before_codes
    errors = await api.errors_file(made["id"], done["id"])
    assert errors.startswith(HEADER + "1,")
    assert len(errors) < 1000  # the error file does not echo the 50 MiB line


async def test_original_file_download_and_roles(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    content = b"\xef\xbb\xbfA1\r\nA2\r\n"
    done = await api.upload(made["id"], content, name="Partner\u2019s codes (1).csv")
    assert done["file_name"] == "Partner\u2019s codes (1).csv"
    file_path = f"/v1/lists/{made['id']}/uploads/{done['id']}/file"
    got = await api.get(file_path)
    assert got.content == content
    assert got.headers["content-disposition"].startswith("attachment;")
    for role in ("viewer", "allocator"):
        assert (await api.get(file_path, role=role)).status_code == 403
        assert (
            await api.get(f"{file_path.removesuffix('/file')}/errors", role=role)
        ).status_code == 403
    assert (await api.get(f"/v1/lists/{made['id']}/uploads", role="viewer")).status_code == 200
    for path in (f"/v1/lists/{made['id']}/uploads/nope", f"{file_path.replace(done['id'], 'x')}"):
        missing = await api.get(path)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "upload_not_found"
    assert (await api.get("/v1/lists/acme.none.1/uploads/x")).json()["error"]["code"] == (
        "list_not_found"
    )


def raw_multipart(file_name: bytes, content: bytes) -> dict[str, Any]:
    """A multipart body carrying `file_name` byte for byte (httpx would escape it)."""
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + file_name + b'"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + content + b"\r\n--b0undary--\r\n"
    )
    return {"content": body, "headers": {"Content-Type": "multipart/form-data; boundary=b0undary"}}


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b"../../../etc/passwd.csv", "../../../etc/passwd.csv"),
        (b"/etc/passwd.csv", "/etc/passwd.csv"),
        (b"%2e%2e%2fcodes.csv", "%2e%2e%2fcodes.csv"),
        (b"C:\\temp\\codes.csv", "codes.csv"),  # python-multipart keeps a Windows basename
        ("caf\u00e9 codes.csv".encode(), "caf\u00e9 codes.csv"),
    ],
)
async def test_file_names_are_never_paths(api: Api, sent: bytes, kept: str) -> None:
    await api.make_partner()
    made = await api.make_list()
    response = await api.post(f"/v1/lists/{made['id']}/uploads", **raw_multipart(sent, b"A\n"))
    assert response.status_code == 202, response.text
    await api.app.state.uploads.drain()
    done = (await api.get(f"/v1/lists/{made['id']}/uploads/{response.json()['id']}")).json()
    assert (done["file_name"], done["status"], done["codes_uploaded"]) == (kept, "completed", 1)
    stored = sorted(p.name for p in (api.app.state.files.root / made["id"]).iterdir())
    assert stored == [f"{done['id']}.csv", f"{done['id']}.errors.csv"]
    assert sorted(p.name for p in api.app.state.files.root.iterdir()) == [made["id"]]
    download = await api.get(f"/v1/lists/{made['id']}/uploads/{done['id']}/file")
    assert download.content == b"A\n"
    assert download.headers["content-disposition"].startswith("attachment; filename")


@pytest.mark.parametrize(
    "sent", [b"codes\x00.csv", b"codes\x01.csv", b"codes\x7f.csv", "\u202evsc.csv".encode()]
)
async def test_file_names_with_control_characters_are_refused(api: Api, sent: bytes) -> None:
    await api.make_partner()
    made = await api.make_list()
    before = await dump(api.redis)
    response = await api.post(f"/v1/lists/{made['id']}/uploads", **raw_multipart(sent, b"A\n"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["fields"][0]["field"] == "file"
    assert await dump(api.redis) == before
    assert not list((api.app.state.files.root / made["id"]).glob("*"))


async def test_upload_log_pages_newest_first(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    ids = []
    for n in range(5):
        await until_store_time(api, await api.store_ms() + 2)  # each a millisecond of its own
        ids.append((await api.upload(made["id"], f"X{n}\n".encode()))["id"])
    seen = [u["id"] for u in await all_pages(api, f"/v1/lists/{made['id']}/uploads", 2)]
    assert seen == list(reversed(ids))


async def test_deleting_a_list_removes_its_uploads(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.upload(made["id"], b"A\nB\n")
    await api.upload(made["id"], b"C\n", name="x.txt")
    assert (await api.delete(f"/v1/lists/{made['id']}")).status_code == 204
    assert [k for k in await api.redis.keys("*") if made["id"].split(".", 1)[1] in k] == []
    assert not (api.app.state.files.root / made["id"]).exists()


async def test_archiving_during_an_upload_stops_it(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    content = "\n".join(f"Q{n}" for n in range(30_000)).encode()
    accepted = await api.upload(made["id"], content, wait=False)
    archived = await api.post(f"/v1/lists/{made['id']}/archive")
    assert archived.status_code == 200
    await api.app.state.uploads.drain()
    final = (await api.get(f"/v1/lists/{made['id']}/uploads/{accepted['id']}")).json()
    assert final["status"] == "failed"
    assert final["errors"] == [{"code": "list_not_uploadable", "count": 1}]
    body = (await api.get(f"/v1/lists/{made['id']}")).json()
    assert body["codes_uploaded"] == final["codes_uploaded"]
    avail, dedupe = await codes_of(api, made["id"])
    assert len(avail) == body["codes_uploaded"]
    assert dedupe == set()


async def test_files_holding_codes_are_readable_by_the_service_only(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.upload(made["id"], b"A\nA\n")  # an original and an error file
    await api.upload(made["id"], b"B\n", name="codes.txt")  # failed at once: its error file
    folder = api.app.state.files.root / made["id"]
    files = list(folder.iterdir())
    assert len(files) == 4
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("known", [b"", b"A\n"], ids=["no-duplicate-in-batch", "one-duplicate"])
async def test_a_code_in_dedupe_alone_is_taken_as_fresh_and_counted(api: Api, known: bytes) -> None:
    """dedupe is avail + issued; were a code in it alone (a damaged store), the batch that
    brings it adds it to avail and counts it, duplicates or not, and the counts stay exact
    (with no duplicate in the batch this used to fail the batch: RPUSH with nothing)."""
    await api.make_partner()
    made = await api.make_list()
    await api.upload(made["id"], b"A\n")
    await api.redis.sadd(Keys("pv").list(ListId(made["id"])).dedupe, "GHOST")
    done = await api.upload(made["id"], known + b"GHOST\nNEW\n")
    assert done["status"] == "completed", done
    assert done["codes_uploaded"] == 2
    assert done["errors"] == ([{"code": "duplicate_code", "count": 1}] if known else [])
    avail, dedupe = await codes_of(api, made["id"])
    assert avail == dedupe == {"A", "GHOST", "NEW"}
    assert await counts(api, made["id"]) == (3, 0, 3)
