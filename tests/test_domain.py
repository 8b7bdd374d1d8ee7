"""Pure rules: statuses, actions, tags, ids, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.clock import rfc3339, to_ms
from app.domain.errors import Unprocessable
from app.domain.lists import (
    ACTIONS,
    Action,
    ListId,
    Status,
    allowed_actions,
    effective_status,
    normalise_tag,
    statuses_allowing,
)
from app.domain.partners import normalise_partner_name, valid_campaign_id


def test_expired_is_derived_from_active_or_paused_only() -> None:
    assert effective_status(Status.ACTIVE, 1000, 999) is Status.ACTIVE
    assert effective_status(Status.ACTIVE, 1000, 1000) is Status.EXPIRED
    assert effective_status(Status.PAUSED, 1000, 1000) is Status.EXPIRED
    assert effective_status(Status.ARCHIVED, 1000, 5000) is Status.ARCHIVED


def test_delete_is_added_only_without_links_and_never_when_archived() -> None:
    assert allowed_actions(Status.ACTIVE, 0)[-1] is Action.DELETE
    assert Action.DELETE not in allowed_actions(Status.ACTIVE, 1)
    assert allowed_actions(Status.ARCHIVED, 0) == []


def test_statuses_allowing_reads_the_table() -> None:
    assert statuses_allowing(Action.PAUSE) == (Status.ACTIVE,)
    assert statuses_allowing(Action.EDIT) == (Status.ACTIVE, Status.PAUSED, Status.EXPIRED)
    assert all(Action.DELETE not in actions for actions in ACTIONS.values())


def test_tags_are_lowercased_and_keep_special_characters() -> None:
    assert normalise_tag("Black_Friday!%") == "black_friday!%"
    for bad in ("", "a b", "x" * 65, "a\x00", "tab\t"):
        with pytest.raises(Unprocessable):
            normalise_tag(bad)


def test_partner_names() -> None:
    assert normalise_partner_name("  Acme  ") == "Acme"
    with pytest.raises(Unprocessable):
        normalise_partner_name("ok\x7f")


def test_campaign_ids() -> None:
    assert valid_campaign_id("A-z_0.9:x")
    assert not valid_campaign_id("")
    assert not valid_campaign_id("a/b")
    assert not valid_campaign_id("x" * 129)


def test_list_ids_are_url_safe_and_parse_back() -> None:
    made = ListId.generate("Café Ünïcode {Brand}", "Summer/Sale?x=1", 36**3)
    assert made.value == "cafe-unicode-brand.summer-sale-x-1.1000"
    assert ListId.parse(made.value) == made
    assert ListId.generate("日本", "!!!", 1).value == "p.t.1"
    for bad in ("", "a.b", "a.b.c.d", "A.b.1", "a.b.1/..", "a{b}.c.1"):
        assert ListId.parse(bad) is None


def test_time_round_trips_in_milliseconds() -> None:
    moment = datetime(2026, 12, 31, 23, 59, 59, 123999, tzinfo=timezone(timedelta(hours=2)))
    ms = to_ms(moment)
    assert rfc3339(ms) == "2026-12-31T21:59:59.123Z"
    assert to_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0
