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

Dagster names (an asset key's part, ``^[A-Za-z0-9_]+$``) are made from a table's view name by
``dagster_name``: the view name itself when it is ASCII, else its ASCII-folded letters and
digits, ``__`` and 12 hex digits of the schema id's hash ("Échantillon" →
``echantillon__<hash>``; "样品" → ``schema__<hash>``). A view name never holds ``__`` (runs of
``_`` become one), so the two kinds never meet; both last as long as the view name, which a
schema's rename keeps.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection

MAX_IDENTIFIER_BYTES = 63  # Postgres's NAMEDATALEN - 1
# A typed table's name leaves room for "$raw"; a dropdown's column for "$id".
TABLE_SUFFIX = "$raw"
OPTION_ID_SUFFIX = "$id"

_NOT_WORD = re.compile(r"[^\w]+|_+")
_IDENTIFIER = re.compile(r"^(?:[^\W\d]|_\w)\w*(?:\$[a-z]*)?$")
_DAGSTER_NAME = re.compile(r"[a-z0-9_]+")  # Dagster's ^[A-Za-z0-9_]+$, as view names are cased
_NOT_ASCII_WORD = re.compile(r"[^a-z0-9]+")
HASH_CHARACTERS = 12


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


def dagster_name(view_name: str, schema_id: str) -> str:
    """A Dagster name for a typed table: its view name when that is one, else the view name's
    ASCII-folded letters and digits, ``__`` and the start of the schema id's SHA-256. Unique:
    view names are, and hashed names hold ``__``, which no view name does (two hashed names
    meet only for like letters and schema ids whose hashes begin alike, 1 pair in 2^48)."""
    if _DAGSTER_NAME.fullmatch(view_name) and "__" not in view_name:
        return view_name
    decomposed = unicodedata.normalize("NFKD", view_name).encode("ascii", errors="ignore")
    slug = _NOT_ASCII_WORD.sub("_", decomposed.decode().lower()).strip("_") or "schema"
    return f"{slug}__{hashlib.sha256(schema_id.encode()).hexdigest()[:HASH_CHARACTERS]}"
