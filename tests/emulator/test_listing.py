"""List mechanics on their own: time filters, sort orders, keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchling_emulator.errors import ApiError
from benchling_emulator.listing import keyset_page, parse_page_size, parse_sort, parse_time_filter

_SORTS = {"modifiedAt": True, "name": False}


def test_time_filters_take_operators_ranges_dates_and_z() -> None:
    noon = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert parse_time_filter("> 2026-03-01T11:59:59Z")(noon)
    assert not parse_time_filter("> 2026-03-01T12:00:00+00:00")(noon)
    assert parse_time_filter(">= 2026-03-01T12:00:00+00:00")(noon)
    assert parse_time_filter("> 2026-03-01 AND < 2026-03-02")(noon)
    assert not parse_time_filter("> 2026-03-01 and < 2026-03-01T11:00:00Z")(noon)
    assert parse_time_filter("2026-03-01")(noon)  # no operator: at or after
    with pytest.raises(ApiError) as refused:
        parse_time_filter("> yesterday")
    assert refused.value.status == 400


def test_sorts_default_to_their_natural_direction() -> None:
    assert parse_sort("modifiedAt", _SORTS, "modifiedAt").descending
    assert not parse_sort("modifiedAt:asc", _SORTS, "modifiedAt").descending
    assert not parse_sort("name", _SORTS, "modifiedAt").descending
    assert parse_sort(None, _SORTS, "modifiedAt").property == "modifiedAt"
    for invalid in ("createdAt", "name:up"):
        with pytest.raises(ApiError):
            parse_sort(invalid, _SORTS, "modifiedAt")


def test_page_sizes_are_between_1_and_100() -> None:
    assert parse_page_size(None) == 50
    assert parse_page_size("100") == 100
    for invalid in ("0", "101", "ten"):
        with pytest.raises(ApiError):
            parse_page_size(invalid)


def test_keyset_pages_survive_an_item_moving_to_the_end() -> None:
    stamps = {"a": "1", "b": "2", "c": "3", "d": "4"}

    def key(item: str) -> tuple[str, str]:
        return stamps[item], item

    first = keyset_page(stamps, key, False, 2, None)
    assert (first.items, first.total) == (["a", "b"], 4)
    stamps["a"] = "9"  # modified while the client pages: it moves behind everything
    second = keyset_page(stamps, key, False, 2, first.next_token)
    assert second.items == ["c", "d"]  # nothing skipped
    last = keyset_page(stamps, key, False, 2, second.next_token)
    assert (last.items, last.next_token) == (["a"], "")
    with pytest.raises(ApiError):
        keyset_page(stamps, key, False, 2, "not-a-token")
