"""The mechanics every list endpoint shares: sort orders, time filters, page sizes, next tokens."""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from benchling_emulator.errors import bad_request

Item = TypeVar("Item")
SortKey = tuple[str, str]  # (value of the sorted property, id): ids break ties

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

# Longest operators first, so ">=" is not read as ">" followed by "=...".
_COMPARISONS: tuple[tuple[str, Callable[[datetime, datetime], bool]], ...] = (
    (">=", operator.ge),
    ("<=", operator.le),
    (">", operator.gt),
    ("<", operator.lt),
)


@dataclass(frozen=True)
class SortOrder:
    property: str
    descending: bool


def parse_sort(text: str | None, natural_orders: Mapping[str, bool], default: str) -> SortOrder:
    """``name``, ``name:asc`` or ``name:desc``; a bare name sorts in its natural order.

    ``natural_orders`` maps each sortable property to whether it naturally sorts descending
    (Benchling lists times newest first, names alphabetically).
    """
    name, _, direction = (text or default).partition(":")
    if name not in natural_orders or direction not in ("", "asc", "desc"):
        raise bad_request(f"invalid sort: {text!r}")
    return SortOrder(name, natural_orders[name] if not direction else direction == "desc")


def parse_time_filter(expression: str) -> Callable[[datetime], bool]:
    """A predicate for Benchling's time filters: ``> 2026-01-01``, ``>= T1 AND < T2``.

    A value without an operator means "at or after it", as the SDK documents.
    """
    bounds: list[tuple[Callable[[datetime, datetime], bool], datetime]] = []
    for clause in expression.replace(" and ", " AND ").split(" AND "):
        clause = clause.strip()
        symbol, compare = next(
            ((symbol, compare) for symbol, compare in _COMPARISONS if clause.startswith(symbol)),
            ("", operator.ge),
        )
        bounds.append((compare, _parse_time(clause.removeprefix(symbol).strip())))
    return lambda moment: all(compare(moment, bound) for compare, bound in bounds)


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"invalid date-time filter: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_page_size(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE_SIZE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise bad_request(f"pageSize must be between 1 and {MAX_PAGE_SIZE}, not {text!r}")
    return int(text)


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: list[Item]
    next_token: str  # "" on the last page: the SDK stops on an empty token, loops on null
    total: int  # how many items match, across all pages (the Result-Count header)


def keyset_page(
    items: Iterable[Item],
    sort_key: Callable[[Item], SortKey],
    descending: bool,
    page_size: int,
    next_token: str | None,
) -> Page[Item]:
    """One page of ``items`` in sort order, starting after the item the token names.

    The token carries the last item's sort key rather than an offset, so an item that moves
    (say, modified while a client pages by modifiedAt) never pushes another one off a page.
    """
    ordered = sorted(items, key=sort_key, reverse=descending)
    remaining = ordered
    if next_token:
        last_seen = _decode_token(next_token)

        def comes_later(item: Item) -> bool:
            key = sort_key(item)
            return key < last_seen if descending else key > last_seen

        remaining = [item for item in ordered if comes_later(item)]
    page = remaining[:page_size]
    more = len(remaining) > page_size
    return Page(page, _encode_token(sort_key(page[-1])) if more else "", len(ordered))


def _encode_token(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_token(token: str) -> SortKey:
    try:
        first, second = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise bad_request(f"invalid nextToken: {token!r}") from None
    return str(first), str(second)
