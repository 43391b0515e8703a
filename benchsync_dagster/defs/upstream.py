"""What the sync reads from, as external assets: the Benchling tenant's registry, and the
webhook inbox the bridge writes. Everything benchsync writes lies downstream of them."""

import dagster as dg

GROUP = "benchling_sync"

benchling_registry = dg.AssetSpec(
    key="benchling_registry",
    description="The Benchling tenant's registry: custom entities, read through benchling-sdk.",
    group_name=GROUP,
    kinds={"benchling"},
)

benchling_webhook_inbox = dg.AssetSpec(
    key="benchling_webhook_inbox",
    description="benchsync.inbox: every webhook Benchling sent, recorded by the bridge"
    " (webhook_sensor_bridge, outside Dagster) once its signature is verified, and settled by"
    " the runs that sync it (synced, dead-lettered or ignored).",
    deps=[benchling_registry],
    group_name=GROUP,
    kinds={"postgres"},
)
