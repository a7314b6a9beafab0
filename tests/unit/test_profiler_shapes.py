"""Model shapes, presets, FLOP/byte counts and KV-capacity arithmetic of the profiler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.errors import ConfigError
from planner.profiler.cost import (
    allreduce_ms,
    decode_step_cost,
    layer_gemms,
    lm_head_gemm,
    prefill_attention_flops,
    prefill_step_cost,
)
from planner.profiler.kv_capacity import kv_bytes_per_token, kv_capacity, weight_bytes_per_gpu
from planner.profiler.model_shape import ModelShape, load_shape, preset_names


def test_presets_carry_the_published_config_values() -> None:
    """Both presets load with the values of the models' published config.json."""
    assert {"llama-3.1-8b", "llama-3.3-70b"} <= set(preset_names())
    s8 = load_shape("llama-3.1-8b")
    assert (s8.layers, s8.hidden_size, s8.heads, s8.kv_heads) == (32, 4096, 32, 8)
    assert (s8.intermediate_size, s8.vocab_size, s8.head_dim) == (14336, 128256, 128)
    s70 = load_shape("Llama-3.3-70B")
    assert (s70.layers, s70.hidden_size, s70.heads, s70.kv_heads) == (80, 8192, 64, 8)
    assert (s70.intermediate_size, s70.vocab_size) == (28672, 128256)


def test_parameter_counts_match_the_model_names() -> None:
    """8B and 70B: 8.03e9 and 70.55e9 weights (the models' published sizes)."""
    assert load_shape("llama-3.1-8b").params() / 1e9 == pytest.approx(8.03, abs=0.01)
    assert load_shape("llama-3.3-70b").params() / 1e9 == pytest.approx(70.55, abs=0.01)


def test_hugging_face_config_keys_and_dtype_override(tmp_path: Path) -> None:
    """A config.json with HF key names loads; torch_dtype maps to our dtype names."""
    cfg = {
        "num_hidden_layers": 2,
        "hidden_size": 256,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 512,
        "vocab_size": 1000,
        "torch_dtype": "bfloat16",
        "architectures": ["LlamaForCausalLM"],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(cfg))
    shape = load_shape(str(path))
    assert (shape.name, shape.layers, shape.kv_heads, shape.dtype) == ("tiny", 2, 2, "bf16")
    assert load_shape(str(path), dtype="float16").dtype == "fp16"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"layers": 0}, "model.layers"),
        ({"heads": 5}, "model.heads"),
        ({"kv_heads": 3}, "model.kv_heads"),
        ({"dtype": "int4"}, "model.dtype"),
    ],
)
def test_bad_shapes_name_the_field(kwargs: dict[str, object], field: str) -> None:
    """Invalid shapes raise ConfigError naming the bad field."""
    base = dict(
        name="x",
        layers=2,
        hidden_size=256,
        heads=4,
        kv_heads=2,
        intermediate_size=512,
        vocab_size=1000,
    )
    base.update(kwargs)
    with pytest.raises(ConfigError) as err:
        ModelShape(**base)  # type: ignore[arg-type]
    assert err.value.field == field


def test_unknown_model_and_bad_tp_are_rejected() -> None:
    """An unknown preset lists the presets; TP must divide heads and fit the KV heads."""
    with pytest.raises(ConfigError, match=r"llama-3\.1-8b"):
        load_shape("no-such-model")
    s8 = load_shape("llama-3.1-8b")
    with pytest.raises(ConfigError) as err:
        s8.check_tp(3)
    assert err.value.field == "tp"
    assert s8.kv_heads_per_gpu(16) == 1  # more ranks than KV heads: one replicated head


def test_layer_gemm_shapes_and_decode_flops_are_twice_the_weights() -> None:
    """Per-layer GEMMs have the model's shapes; a batch-1 decode step does 2 FLOPs per weight."""
    s = load_shape("llama-3.1-8b")
    g = {x.name: (x.m, x.n, x.k) for x in layer_gemms(s, tokens=7, tp=1)}
    assert g == {
        "qkv_proj": (7, 6144, 4096),
        "o_proj": (7, 4096, 4096),
        "gate_up_proj": (7, 28672, 4096),
        "down_proj": (7, 4096, 14336),
    }
    cost = decode_step_cost(s, batch=1, context=100, tp=1)
    matmul_weights = s.layers * (s.params_per_layer() - 2 * s.hidden_size)
    matmul_weights += s.vocab_size * s.hidden_size
    assert cost.gemm_flops == 2 * matmul_weights
    # TP2 halves every sharded GEMM on each GPU
    half = decode_step_cost(s, batch=1, context=100, tp=2)
    assert half.gemm_flops == cost.gemm_flops // 2
    assert half.allreduces == 2 * s.layers and cost.allreduces == 0


def test_attention_costs_follow_the_formulas() -> None:
    """Prefill attention 2*H*D*L^2 per layer; decode reads 2*kv*D*C*bytes per sequence."""
    s = load_shape("llama-3.1-8b")
    assert prefill_attention_flops(s, isl=1000, tp=1) == 2 * 32 * 128 * 1000 * 1000
    cost = decode_step_cost(s, batch=4, context=1000, tp=1)
    assert cost.attention_bytes == s.layers * 2 * 8 * 128 * 1000 * 4 * 2
    pre = prefill_step_cost(s, isl=1000, tp=1)
    assert pre.gemm_flops == s.layers * sum(x.flops for x in layer_gemms(s, tokens=1000, tp=1)) + (
        lm_head_gemm(s, rows=1, tp=1).flops
    )


def test_allreduce_time_is_the_ring_formula() -> None:
    """Ring all-reduce: 2(tp-1)/tp x bytes / bandwidth + latency; zero at TP1."""
    assert allreduce_ms(10**9, tp=1, bandwidth_gb_s=100) == 0.0
    assert allreduce_ms(10**9, tp=8, bandwidth_gb_s=100, latency_us=10) == pytest.approx(
        2 * 7 / 8 * 10.0 + 0.01
    )
    with pytest.raises(ConfigError):
        allreduce_ms(1, tp=2, bandwidth_gb_s=0)


@pytest.mark.parametrize(
    ("model", "tp", "expected"),
    [("llama-3.1-8b", 1, 131072), ("llama-3.1-8b", 8, 16384), ("llama-3.3-70b", 8, 40960)],
)
def test_kv_bytes_per_token(model: str, tp: int, expected: int) -> None:
    """2 x layers x kv_heads x head_dim x dtype bytes / TP (bf16)."""
    s = load_shape(model)
    assert kv_bytes_per_token(s, tp=tp) == expected
    assert expected == 2 * s.layers * s.kv_heads * s.head_dim * 2 // tp


def test_kv_capacity_reproduces_the_measured_h200_profile() -> None:
    """FP8 weights, bf16 KV, 0.9 of an H200's 143,771 MiB and a 2 GiB reserve land within
    3% of the 945,029 tokens the shipped (measured) vLLM profile reports."""
    s = load_shape("llama-3.1-8b", dtype="fp8")
    cap = kv_capacity(s, tp=1, free_bytes=143771 * 1024**2, kv_dtype="bf16", block_size=128)
    assert cap.max_kv_tokens % 128 == 0
    assert cap.max_kv_tokens == pytest.approx(945029, rel=0.03)
    assert cap.weight_bytes == weight_bytes_per_gpu(s, tp=1)


def test_kv_capacity_refuses_a_model_that_does_not_fit() -> None:
    """70B bf16 on one 80 GiB GPU does not fit: the error asks for more GPUs per worker."""
    with pytest.raises(ConfigError, match="more GPUs per worker"):
        kv_capacity(load_shape("llama-3.3-70b"), tp=1, free_bytes=80 * 1024**3)
    cap = kv_capacity(load_shape("llama-3.3-70b"), tp=4, free_bytes=80 * 1024**3)
    assert cap.max_kv_tokens > 100_000
