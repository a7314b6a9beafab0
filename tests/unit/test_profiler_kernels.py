"""The GPU profiler's CUDA source compiles (nvcc, no GPU needed) and checks its inputs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from planner.errors import ConfigError
from planner.profiler.gpu_kernels import kernel_source

NVCC = shutil.which("nvcc") or (
    "/usr/local/cuda/bin/nvcc" if Path("/usr/local/cuda/bin/nvcc").exists() else None
)


@pytest.mark.parametrize(("dtype", "head_dim"), [("bf16", 128), ("fp16", 128), ("fp32", 64)])
def test_kernels_compile_for_hopper(tmp_path: Path, dtype: str, head_dim: int) -> None:
    """causal_softmax and paged_decode_attention compile to sm_90 code for each dtype."""
    if NVCC is None:
        pytest.skip("nvcc not found")
    src = tmp_path / "k.cu"
    src.write_text(kernel_source(dtype=dtype, head_dim=head_dim, block_size=16))
    proc = subprocess.run(
        [NVCC, "-cubin", "-arch=sm_90", "-o", str(tmp_path / "k.cubin"), str(src)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "k.cubin").stat().st_size > 0


def test_kernel_inputs_are_checked() -> None:
    """fp8 and head sizes the warp layout cannot split are refused by name."""
    with pytest.raises(ConfigError) as err:
        kernel_source(dtype="fp8", head_dim=128, block_size=16)
    assert err.value.field == "dtype"
    with pytest.raises(ConfigError) as err:
        kernel_source(dtype="bf16", head_dim=80, block_size=16)
    assert err.value.field == "head_dim"
