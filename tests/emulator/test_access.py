"""Lost access, as the emulator plays it: what the App cannot see is left out of lists (still
200) and answers 404 when asked for, as Benchling does; restoring access shows it again."""

from __future__ import annotations

import httpx
import pytest
from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError

from benchling_emulator.server import EmulatorServer


def _hide(emulator: EmulatorServer, ids: list[str]) -> list[str]:
    response = httpx.post(f"{emulator.base_url}/_emulator/access", json={"hidden": ids})
    response.raise_for_status()
    hidden: list[str] = response.json()["hidden"]
    return hidden


def _listed(benchling: Benchling) -> list[str]:
    pages = benchling.custom_entities.list(archive_reason="ANY_ARCHIVED_OR_NOT_ARCHIVED")
    return [entity.id for page in pages for entity in page]


def test_hidden_entities_are_left_out_of_lists_and_unknown_to_gets_until_access_returns(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    visible, hidden = emulator.tenant.create_registered(2)
    [sequence] = emulator.tenant.create_registered(1, ["dna_sequence"])

    assert _hide(emulator, [hidden, sequence, "bfi_unknown"]) == sorted([hidden, sequence])

    assert _listed(benchling) == [visible]
    assert [e.id for page in benchling.dna_sequences.list() for e in page] == []
    with pytest.raises(BenchlingError) as refused:
        benchling.custom_entities.get_by_id(hidden)
    assert refused.value.status_code == 404
    assert [e.id for e in benchling.custom_entities.bulk_get([visible, hidden]) or []] == [visible]

    assert _hide(emulator, []) == []

    assert sorted(_listed(benchling)) == sorted([visible, hidden])
    assert benchling.custom_entities.get_by_id(hidden).id == hidden
    assert benchling.dna_sequences.get_by_id(sequence).id == sequence


def test_the_access_control_refuses_what_is_not_a_list_of_ids(emulator: EmulatorServer) -> None:
    response = httpx.post(f"{emulator.base_url}/_emulator/access", json={"hidden": "bfi_1"})

    assert response.status_code == 400
