"""Whatever arrives, the bridge answers 4xx or 2xx (never 5xx while Postgres is up), and stores
nothing that is not a signed envelope."""

from __future__ import annotations

import json

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchling_emulator.signing import WebhookSigner
from tests.support.properties import examples
from tests.support.webhooks import envelope, inbox_row, inbox_total

HEADER_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")
# What an HTTP header value can carry: printable Latin-1 (werkzeug refuses the rest).
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"))
header_values = header_text | st.sampled_from(
    ["", "0", "1700000000", "v1der,AAAA", "v1der,MEUCIQ==", "msg_1"]
)
bodies = st.binary(max_size=300) | st.sampled_from([b"", b"{}", b"null", envelope()])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
sub_paths = st.sampled_from(["", "/x", "/a/b/c", "/%00", "/..%2f"])
property_settings = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@property_settings
@given(
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), header_values),
    body=bodies,
    sub_path=sub_paths,
)
def test_unsigned_requests_get_a_4xx_and_store_nothing(
    app: Flask, migrated_database_url: str, headers: dict[str, str], body: bytes, sub_path: str
) -> None:
    before = inbox_total(migrated_database_url)
    response = app.test_client().post(f"/1/webhooks{sub_path}", data=body, headers=headers)
    assert response.status_code in (400, 401, 404)
    assert inbox_total(migrated_database_url) == before


# The early-access form (Benchling's example App's): the event wrapped in the message, whole,
# partial or of the wrong types.
wrapped_messages = st.fixed_dictionaries(
    {"type": st.just("v0-beta.event.created")},
    optional={
        "event": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "eventType": json_values | st.just("v2.entity.registered"),
                "resourceId": json_values,
            },
        )
    },
)


@property_settings
@given(
    message=st.dictionaries(st.text(), json_values)
    | st.just({"type": "v2.entity.registered"})
    | wrapped_messages,
    extra=st.dictionaries(st.text(), json_values),
    raw=st.binary(max_size=100),
    use_raw=st.booleans(),
)
def test_signed_bodies_are_stored_only_when_they_are_envelopes(
    app: Flask,
    signer: WebhookSigner,
    migrated_database_url: str,
    message: dict[str, object],
    extra: dict[str, object],
    raw: bytes,
    use_raw: bool,
) -> None:
    body = raw if use_raw else json.dumps({**extra, "message": message}).encode()
    headers = signer.signed_headers(body)
    before = inbox_total(migrated_database_url)

    response = app.test_client().post("/1/webhooks", data=body, headers=headers)

    assert response.status_code in (200, 400)
    stored = inbox_row(migrated_database_url, headers["webhook-id"]) is not None
    assert stored == (response.status_code == 200)
    assert inbox_total(migrated_database_url) == before + stored
