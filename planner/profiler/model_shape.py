"""A decoder-only transformer described by its shape, and the presets shipped with us.

A shape is the handful of numbers from a model's ``config.json`` that decide how much
work a forward step does: layers, hidden size, attention heads, KV heads (grouped-query
attention), MLP intermediate size, vocabulary and the dtype of weights and KV cache.
Accepted JSON keys are ours (``layers``, ``hidden_size``, ...) or Hugging Face's
(``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``, ``torch_dtype``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from planner.errors import ConfigError

PRESET_DIR = Path(__file__).resolve().parent / "presets"

#: bytes per element of each dtype we time
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1}
_DTYPE_ALIASES = {
    "float32": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "float8": "fp8",
    "float8_e4m3fn": "fp8",
}
_HF_KEYS = {
    "num_hidden_layers": "layers",
    "num_attention_heads": "heads",
    "num_key_value_heads": "kv_heads",
    "torch_dtype": "dtype",
}


@dataclass(frozen=True)
class ModelShape:
    """Shape of a Llama-style decoder (RMSNorm, GQA attention, gated SiLU MLP)."""

    name: str
    layers: int
    hidden_size: int
    heads: int
    kv_heads: int
    intermediate_size: int
    vocab_size: int
    dtype: str = "bf16"
    tie_word_embeddings: bool = False

    def __post_init__(self) -> None:
        for f in ("layers", "hidden_size", "heads", "kv_heads", "intermediate_size", "vocab_size"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"model.{f}", v, "a positive integer")
        if self.dtype not in DTYPE_BYTES:
            raise ConfigError("model.dtype", self.dtype, f"one of {sorted(DTYPE_BYTES)}")
        if self.hidden_size % self.heads:
            raise ConfigError(
                "model.heads", self.heads, f"a divisor of hidden_size {self.hidden_size}"
            )
        if self.heads % self.kv_heads:
            raise ConfigError("model.kv_heads", self.kv_heads, f"a divisor of heads {self.heads}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.heads

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def params_per_layer(self) -> int:
        """Weights of one decoder layer: q,k,v,o projections, gate/up/down, two norms."""
        h, d = self.hidden_size, self.head_dim
        attn = h * self.heads * d + 2 * h * self.kv_heads * d + self.heads * d * h
        mlp = 3 * h * self.intermediate_size
        return attn + mlp + 2 * h

    def params(self) -> int:
        """All weights: layers, final norm, embedding and (untied) LM head."""
        emb = self.vocab_size * self.hidden_size
        head = 0 if self.tie_word_embeddings else emb
        return self.layers * self.params_per_layer() + self.hidden_size + emb + head

    def check_tp(self, tp: int) -> None:
        """Raise ConfigError unless ``tp`` shards this model evenly.

        Query heads and the MLP split across TP ranks; KV heads split too when there are
        at least ``tp`` of them, else each rank holds one replicated KV head.
        """
        if not isinstance(tp, int) or isinstance(tp, bool) or tp <= 0:
            raise ConfigError("tp", tp, "a positive integer")
        if self.heads % tp:
            raise ConfigError("tp", tp, f"a divisor of the model's {self.heads} attention heads")
        if self.intermediate_size % tp:
            raise ConfigError("tp", tp, f"a divisor of intermediate_size {self.intermediate_size}")
        if self.kv_heads % tp and tp % self.kv_heads:
            raise ConfigError(
                "tp", tp, f"a divisor or multiple of the model's {self.kv_heads} KV heads"
            )

    def kv_heads_per_gpu(self, tp: int) -> int:
        self.check_tp(tp)
        return max(1, self.kv_heads // tp)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _normalise(raw: dict[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in raw.items():
        out[_HF_KEYS.get(k, k)] = v
    if "dtype" in out and isinstance(out["dtype"], str):
        out["dtype"] = _DTYPE_ALIASES.get(out["dtype"].lower(), out["dtype"].lower())
    out.setdefault("name", Path(source).stem)
    fields = set(ModelShape.__dataclass_fields__)
    required = fields - {"dtype", "tie_word_embeddings", "name"}
    missing = sorted(required - set(out))
    if missing:
        raise ConfigError(
            f"model.{missing[0]}", None, f"a value in {source} (missing keys {missing})"
        )
    return {k: v for k, v in out.items() if k in fields}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


def load_shape(name_or_path: str, *, dtype: str | None = None) -> ModelShape:
    """A shipped preset by name (``llama-3.1-8b``) or a JSON file of the shape.

    ``dtype`` overrides the file's dtype (e.g. ``fp16`` to time fp16 GEMMs).
    """
    path = Path(name_or_path)
    if not path.is_file():
        path = PRESET_DIR / f"{name_or_path.lower()}.json"
    if not path.is_file():
        raise ConfigError(
            "model", name_or_path, f"a preset ({', '.join(preset_names())}) or a JSON shape file"
        )
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError("model", str(path), f"a readable JSON object ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError("model", str(path), "a JSON object at the top level")
    kwargs = _normalise(raw, str(path))
    if dtype is not None:
        kwargs["dtype"] = _DTYPE_ALIASES.get(dtype.lower(), dtype.lower())
    return ModelShape(**kwargs)
