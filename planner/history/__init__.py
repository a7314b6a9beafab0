"""A cluster's own history: the per-interval file ``sla-planner history`` writes (format),
its reading as load and its expansion into requests (expand); the replay of what
actually ran is planner/sim/actual.py."""
