"""Postgres identifiers made from Benchling's display names: validated, length-limited,
collision-free. They are always quoted in SQL (``psycopg.sql.Identifier``); these rules keep
them readable unquoted too.

- lower case; every run of characters that is not a letter or digit (Unicode ones included)
  becomes one ``_``; leading and trailing ``_`` dropped; a name starting with a digit gets
  ``_`` in front; an empty result becomes ``field`` (or ``schema``).
- cut to fit Postgres's 63 bytes (UTF-8), leaving room for the suffixes benchsync adds.
- a name already taken gets ``_2``, ``_3`` … (cut further to fit).
- field columns never contain ``$``: benchsync's own columns end in ``$`` (``name$``,
  ``modified_at$`` …, as Benchling Warehouse names them), so a field can never take one.

Examples: "Passage Number" → ``passage_number``; "pH (25 °C)" → ``ph_25_c``;
"Концентрация" → ``концентрация``; "select" → ``select``; "2nd Parent" → ``_2nd_parent``;
"Batch-Number" beside "Batch Number" → ``batch_number_2``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

MAX_IDENTIFIER_BYTES = 63  # Postgres's NAMEDATALEN - 1
# A typed table's name leaves room for "$raw"; a dropdown's column for "$id".
TABLE_SUFFIX = "$raw"
OPTION_ID_SUFFIX = "$id"

_NOT_WORD = re.compile(r"[^\w]+|_+")
_IDENTIFIER = re.compile(r"^(?:[^\W\d]|_\w)\w*(?:\$[a-z]*)?$")


class IdentifierError(ValueError):
    """An identifier that the naming rules could not have made."""


def _cut(text: str, max_bytes: int) -> str:
    encoded = text.encode()[:max_bytes]
    return encoded.decode(errors="ignore").rstrip("_")


def normalised(display_name: str, fallback: str) -> str:
    """The display name in identifier form (not yet cut or deduplicated)."""
    folded = unicodedata.normalize("NFKC", display_name).casefold()
    words = _NOT_WORD.sub("_", folded).strip("_")
    if not words:
        return fallback
    return f"_{words}" if words[0].isdigit() else words


def unique_name(display_name: str, taken: Collection[str], fallback: str, reserve: int) -> str:
    """A new identifier for ``display_name``, not in ``taken``, with ``reserve`` bytes left
    free for a suffix."""
    base = _cut(normalised(display_name, fallback), MAX_IDENTIFIER_BYTES - reserve) or fallback
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"_{number}"
        candidate = _cut(base, MAX_IDENTIFIER_BYTES - reserve - len(suffix)) + suffix
    return validated(candidate)


def validated(identifier: str) -> str:
    """``identifier`` when it is one these rules make (checked again before any DDL)."""
    if (
        not identifier
        or len(identifier.encode()) > MAX_IDENTIFIER_BYTES
        or not _IDENTIFIER.match(identifier)
    ):
        raise IdentifierError(f"{identifier!r} is not an identifier benchsync makes")
    return identifier
