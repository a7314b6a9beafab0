"""Settings: YAML < PLANNER_ env < CLI flags, and errors that name field/value/expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import ConfigError
from planner.settings import load_settings


def test_precedence_yaml_then_env_then_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flag beats an env var, which beats the YAML file, which beats the default."""
    cfg = tmp_path / "planner.yaml"
    cfg.write_text("ttft_ms: 300\nitl_ms: 20\ninterval_s: 30\ndecode:\n  max_replicas: 9\n")
    monkeypatch.setenv("PLANNER_ITL_MS", "25")
    monkeypatch.setenv("PLANNER_DECODE__GPUS_PER_WORKER", "2")
    s = load_settings(config_file=cfg, overrides={"interval_s": 15.0})
    assert s.ttft_ms == 300  # yaml
    assert s.itl_ms == 25  # env beats yaml
    assert s.interval_s == 15  # flag beats yaml
    assert s.decode.max_replicas == 9 and s.decode.gpus_per_worker == 2  # nested


def test_unknown_key_in_yaml_is_named(tmp_path: Path) -> None:
    """A typo in the YAML file stops start-up and names the key."""
    cfg = tmp_path / "p.yaml"
    cfg.write_text("prefill:\n  min_replica: 2\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=cfg)
    assert info.value.field == "prefill.min_replica"
    assert info.value.exit_code == 2


def test_bad_values_name_field_value_and_expectation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each invalid value gives its dotted field, the value and the expected range."""
    with pytest.raises(
        ConfigError, match=r"invalid setting interval_s=0: expected .*greater than 0"
    ):
        load_settings(overrides={"interval_s": 0})
    with pytest.raises(ConfigError, match=r"mode='mixed'.*'disagg' or 'agg'"):
        load_settings(overrides={"mode": "mixed"})
    monkeypatch.setenv("PLANNER_BUDGET__MAX_GPUS", "-4")
    with pytest.raises(ConfigError, match=r"budget.max_gpus='-4'"):
        load_settings()


def test_missing_or_malformed_config_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist, or that is not a mapping, is rejected."""
    with pytest.raises(ConfigError, match="an existing YAML file"):
        load_settings(config_file=tmp_path / "absent.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="YAML mapping"):
        load_settings(config_file=bad)


def test_every_problem_is_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad values, unknown keys (YAML), a wrong section type and unknown PLANNER_
    variables all appear in one ConfigError, each on its own line, none repeated."""
    cfg = tmp_path / "p.yaml"
    cfg.write_text("ttft_ms: -1\nservice:\n  porrt: 3\nbudget: 5\n")
    monkeypatch.setenv("PLANNER_MODE", "mixed")
    monkeypatch.setenv("PLANNER_PREFILL__MIN_REPLICA", "3")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=cfg, overrides={"interval_s": 0})
    fields = [f for f, _, _ in info.value.problems]
    assert sorted(fields) == sorted(
        ["interval_s", "mode", "ttft_ms", "budget", "service.porrt", "PLANNER_PREFILL__MIN_REPLICA"]
    )
    text = str(info.value)
    assert text.startswith("6 invalid settings:\n")
    porrt = "service.porrt=3: expected a known setting of service (did you mean 'service.port'?)"
    assert porrt in text
    assert "budget=5: expected a section of settings" in text
    assert info.value.exit_code == 2


def test_unknown_planner_variable_is_rejected_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PLANNER_TTFTMS=100 (a typo) is not ignored: it is named with its value and the
    variable it probably meant."""
    monkeypatch.setenv("PLANNER_TTFTMS", "100")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == (
        "invalid setting PLANNER_TTFTMS='100': expected a known PLANNER_ variable "
        "(did you mean 'PLANNER_TTFT_MS'?)"
    )


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("prefill:\n  min_replica: 2\n", "prefill.min_replica"),
        ("ttft: 100\n", "ttft"),
        ("connector:\n  virtual:\n    dir: /x\n", "connector.virtual.dir"),
    ],
)
def test_messages_are_plain_words(tmp_path: Path, yaml_text: str, field: str) -> None:
    """Unknown keys read 'expected a known setting', never pydantic's 'Extra inputs are
    not permitted' or its 'Input should be' phrasing."""
    cfg = tmp_path / "p.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=cfg)
    text = str(info.value)
    assert info.value.field == field and "expected a known setting" in text
    for leaked in ("Extra inputs are not permitted", "Input should be", "Value error"):
        assert leaked not in text


def test_renew_deadline_must_lie_between_renewals_and_the_lease() -> None:
    """A renew deadline at or past the lease (no margin) or before the next renewal is
    rejected with the three values; inside the range it is accepted."""
    base = {"connector.kind": "kubernetes", "connector.kubernetes.graph_name": "g"}
    le = "connector.kubernetes.leader_election"
    for bad in (15.0, 4.0):
        with pytest.raises(ConfigError, match=r"renew_deadline_s=.* must be between"):
            load_settings(overrides={**base, f"{le}.renew_deadline_s": bad})
    ok = load_settings(overrides={**base, f"{le}.renew_deadline_s": 12.0})
    assert ok.connector.kubernetes is not None
    assert ok.connector.kubernetes.leader_election.renew_deadline_s == 12.0
