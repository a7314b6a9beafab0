"""One GPU pool, several graphs: the pool planner (each graph planned, then arbitrated)
and what the pool costs in dollars. docs/pool.md."""
