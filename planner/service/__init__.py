"""The long-running planner service: tick loop, its HTTP endpoint and telemetry."""
