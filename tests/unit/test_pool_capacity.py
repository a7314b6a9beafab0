"""The pool's cluster cap from its graphs' capacity readings."""

from __future__ import annotations

from planner.pool.capacity import pool_cap_gpus


def test_free_gpus_are_counted_once_and_every_graphs_own_added() -> None:
    """Two graphs on one cluster with 2 GPUs free: chat holding 4 reads 6, code holding
    3 reads 5; the pool can hold 2 + 4 + 3 = 9, not 6 + 5."""
    assert pool_cap_gpus(caps={"chat": 6, "code": 5}, own_gpus={"chat": 4, "code": 3}) == 9


def test_the_tightest_reading_binds_and_a_graph_without_one_still_holds_its_own() -> None:
    """Readings that disagree (a quota on one namespace): the least free count binds; a
    graph with no reading (None) adds its own GPUs but no limit."""
    caps = {"a": 10, "b": 5, "c": None}
    own = {"a": 2, "b": 4, "c": 3}
    assert pool_cap_gpus(caps=caps, own_gpus=own) == 1 + 2 + 4 + 3


def test_no_reading_is_no_cap_and_a_cluster_already_short_frees_nothing() -> None:
    """No graph read the cluster: None (pool.gpus alone). A reading below what the
    graph holds (a node lost) gives no free GPUs, never a negative count."""
    assert pool_cap_gpus(caps={"a": None}, own_gpus={"a": 3}) is None
    assert pool_cap_gpus(caps={"a": 2}, own_gpus={"a": 3}) == 3
