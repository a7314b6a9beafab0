"""A cluster's own history: the per-interval file ``sla-planner history`` writes (format),
its expansion into requests (expand) and the replay of what actually ran (replay)."""
