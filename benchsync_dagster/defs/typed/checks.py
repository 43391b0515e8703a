"""``typed_tables_complete``: whether every mirrored schema's typed table holds what its
snapshots hold. A schema's table can fall short when Postgres refuses its rows or DDL (a row
too big, say), or when its fields pass Postgres's limits and some get no column; its snapshots
and ``synced_benchling_data`` are written all the same, and the other schemas' tables too.
Every run that writes typed tables evaluates it; it can also run on its own."""

from collections.abc import Mapping

import dagster as dg

from benchsync_dagster.defs.resources import PostgresResource
from benchsync_dagster.storage import typed_table_problems
from benchsync_dagster.storage.typed_table_problems import TypedTableProblem

COMPLETE_CHECK = "typed_tables_complete"
SNAPSHOTS = dg.AssetKey("benchling_entity_snapshots")


def completeness_evaluation(problems: Mapping[str, TypedTableProblem]) -> dg.AssetCheckEvaluation:
    """The check's outcome over the problems noted now, naming each schema and its problem."""
    named = {
        problem.schema_id: f"{problem.schema_name}: {problem.problem}"
        for problem in problems.values()
    }
    return dg.AssetCheckEvaluation(
        asset_key=SNAPSHOTS,
        check_name=COMPLETE_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "typed tables short of their snapshots: "
            + "; ".join(f"{schema_id} ({text})" for schema_id, text in named.items())
            if problems
            else "every schema's typed table holds its snapshots"
        ),
        metadata={"schemas": dg.MetadataValue.json(named)},
    )


@dg.asset_check(
    asset=SNAPSHOTS,
    name=COMPLETE_CHECK,
    description="Fails while a schema's typed table lacks rows or columns its snapshots hold"
    " (Postgres refused them); names each schema and why.",
)
def typed_tables_complete(postgres: PostgresResource) -> dg.AssetCheckResult:
    with postgres.transaction() as connection:
        evaluation = completeness_evaluation(typed_table_problems.noted(connection))
    return dg.AssetCheckResult(
        passed=evaluation.passed,
        severity=evaluation.severity,
        description=evaluation.description,
        metadata=evaluation.metadata,
    )


def log_typed_table_problems(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> dict[str, str]:
    """Log the check's outcome over the problems noted now (a run that wrote typed tables);
    returns them for the run's metadata (schema id → what)."""
    with postgres.transaction() as connection:
        problems = typed_table_problems.noted(connection)
    context.log_event(completeness_evaluation(problems))
    return {schema_id: problem.problem for schema_id, problem in problems.items()}
