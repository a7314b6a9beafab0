"""The serving engine's per-worker limits a simulated worker obeys, and where each came
from: vLLM's ``max_num_seqs`` (sequences a worker runs at once) and
``max_num_batched_tokens`` (tokens one prefill step schedules).

Each is taken from, in order: an explicit value (a ``simulate`` flag), the settings
(``engine.*``), the profile's metadata (the limits it was measured under), else none.
A profile's ``max_batch_size`` is not read as ``max_num_seqs``: the shipped H200
profile's 128 is not the running cap its decode points were measured under (its
SOURCE.md counts up to 1,573 requests running), so only a profile that states
``max_num_seqs`` sets one.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.core.settings import PolicySettings
from planner.errors import ConfigError
from planner.perf.profile import ProfileMeta

#: prompt tokens one prefill batch takes when no engine limit is given (the simulator's
#: batching cap before engine limits existed; default behaviour is unchanged)
DEFAULT_BATCH_TOKENS = 16384


@dataclass(frozen=True, slots=True)
class EngineLimits:
    """Per-worker engine limits (None: no limit) and the source of each."""

    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    max_num_seqs_source: str = "none"
    max_num_batched_tokens_source: str = "none"

    @property
    def batch_tokens(self) -> int:
        """Prompt tokens one prefill batch may take (the default cap when unset)."""
        return self.max_num_batched_tokens or DEFAULT_BATCH_TOKENS

    def describe(self) -> dict[str, object]:
        """The limits and their sources, for summary.json and the report."""
        return {
            "max_num_seqs": self.max_num_seqs,
            "max_num_seqs_source": self.max_num_seqs_source,
            "max_num_batched_tokens": self.max_num_batched_tokens,
            "max_num_batched_tokens_source": self.max_num_batched_tokens_source,
        }


def _pick(name: str, candidates: tuple[tuple[str, int | None], ...]) -> tuple[int | None, str]:
    for source, value in candidates:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{source}.{name}", value, "a whole number >= 1")
        return value, source
    return None, "none"


def engine_limits(
    settings: PolicySettings,
    meta: ProfileMeta,
    *,
    max_num_seqs: int | None = None,
    max_num_batched_tokens: int | None = None,
) -> EngineLimits:
    """The limits for the simulated workers: explicit value > settings > profile > none."""
    seqs, seqs_src = _pick(
        "max_num_seqs",
        (
            ("flag", max_num_seqs),
            ("settings", settings.engine.max_num_seqs),
            ("profile", meta.max_num_seqs),
        ),
    )
    tokens, tokens_src = _pick(
        "max_num_batched_tokens",
        (
            ("flag", max_num_batched_tokens),
            ("settings", settings.engine.max_num_batched_tokens),
            ("profile", meta.max_num_batched_tokens),
        ),
    )
    return EngineLimits(
        max_num_seqs=seqs,
        max_num_batched_tokens=tokens,
        max_num_seqs_source=seqs_src,
        max_num_batched_tokens_source=tokens_src,
    )
