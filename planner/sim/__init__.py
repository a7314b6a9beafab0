"""Discrete-event cluster simulator: prefill/decode workers driven by a trace and a policy.

The cluster model (``Cluster``) is incremental and clock-free (``submit``, ``advance_to``,
``set_targets``, ``snapshot``), so the offline simulator and a wall-clock emulated graph
can share it. See docs/simulation.md.
"""

from planner.sim.cluster import Cluster, ClusterConfig
from planner.sim.snapshot import ClusterSnapshot, observation_between
from planner.sim.truth import TruePerf, scaled_profile

__all__ = [
    "Cluster",
    "ClusterConfig",
    "ClusterSnapshot",
    "TruePerf",
    "observation_between",
    "scaled_profile",
]
