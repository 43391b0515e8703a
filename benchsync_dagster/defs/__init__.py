"""The Dagster side: resources, and per domain its assets, checks, jobs, sensors, schedules."""
