"""The policy ablation's variants are valid settings and its table reads right."""

from __future__ import annotations

from planner.evaluation.policy_ablation import VARIANTS, _merge, table
from planner.settings import load_settings


def test_every_variant_is_a_valid_settings_override_that_changes_something() -> None:
    """Each variant loads through the settings tree and differs from the shipped
    settings (a variant that changed nothing would ablate nothing)."""
    shipped = load_settings(overrides={}).model_dump()
    for name, overrides in VARIANTS.items():
        got = load_settings(overrides=overrides).model_dump()
        assert (got == shipped) == (name == "shipped"), name


def test_merge_keeps_a_scenarios_own_section_keys() -> None:
    """A scenario's own sla settings survive a variant that sets another sla key."""
    merged = _merge({"sla": {"itl_headroom": 0.8}, "interval_s": 30}, {"sla": {"x": 1}})
    assert merged == {"sla": {"itl_headroom": 0.8, "x": 1}, "interval_s": 30}


def test_table_shows_attainment_gpu_hours_and_the_difference_to_shipped() -> None:
    """Cells carry attainment, GPU-hours and the GPU-hour change; a missing run is '-'."""
    results = {
        "a|shipped": {"attainment": 0.995, "gpu_hours": 10.0},
        "a|no x": {"attainment": 0.97, "gpu_hours": 9.5},
    }
    out = table(results, ["a"], ["shipped", "no x", "no y"])
    assert "| a | 99.50% 10.00 | 97.00% 9.50 (-0.50) | - |" in out
