"""CUDA work the GPU profiler times: cuBLAS GEMMs (ctypes) and our attention kernels.

- Matrix products go to cuBLAS (``cublasGemmEx`` / ``cublasGemmStridedBatchedEx``)
  through ctypes, on the context PyCUDA made current (the CUDA runtime inside cuBLAS
  adopts the current driver context). Row-major C[m,n] = A[m,k] B[k,n] is column-major
  C^T = B^T A^T, so cuBLAS gets (n, m, k) and the operands swapped.
- Prefill attention is unfused, per KV head and query chunk: S = Q K^T (cuBLAS, fp32
  out), a causal softmax kernel writes P, O = P V (cuBLAS). Not FlashAttention: it
  reads and writes the score matrix, so it is slower than fused kernels at long ISL.
- Decode attention reads a paged KV cache ([blocks, block_size, kv_heads, head_dim],
  block table per sequence): one thread block per (query head, sequence), each warp a
  strided subset of the tokens with an online softmax, warps merged at the end.

Nothing here imports pycuda at module import; the CUDA source is plain text (compiled
by PyCUDA's SourceModule at run time, and by nvcc in a CPU test when nvcc exists).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
from pathlib import Path

from planner.errors import ConfigError

#: cudaDataType_t values for the dtypes we time
CUDA_DTYPE = {"fp32": 0, "fp16": 2, "bf16": 14}
C_TYPE = {"fp32": "float", "fp16": "__half", "bf16": "__nv_bfloat16"}
CUBLAS_COMPUTE_32F = 68
CUBLAS_GEMM_DEFAULT = -1
CUBLAS_OP_N, CUBLAS_OP_T = 0, 1
DECODE_WARPS = 8

KERNEL_SOURCE = r"""
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math_constants.h>

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ void from_f(float v, float* p) { *p = v; }
__device__ __forceinline__ void from_f(float v, __half* p) { *p = __float2half(v); }
__device__ __forceinline__ void from_f(float v, __nv_bfloat16* p) { *p = __float2bfloat16(v); }

// Causal softmax over rows of S[rows, cols] (fp32) into P (T). Row r is query position
// q0 + r and may attend keys 0..q0+r; later keys get probability 0. One block per row.
extern "C" __global__ void causal_softmax(const float* __restrict__ S, T* __restrict__ P,
                                          int rows, int cols, int q0, float scale) {
    const int r = blockIdx.x + blockIdx.y * rows;   // blockIdx.y: batch (query head)
    const float* s = S + (size_t)r * cols;
    T* p = P + (size_t)r * cols;
    const int limit = min(cols, q0 + (int)blockIdx.x + 1);
    __shared__ float red[32];
    float m = -CUDART_INF_F;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) m = fmaxf(m, s[j] * scale);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, o));
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
    __syncthreads();
    m = -CUDART_INF_F;
    for (int w = 0; w < (int)(blockDim.x >> 5); ++w) m = fmaxf(m, red[w]);
    __syncthreads();
    float sum = 0.f;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) sum += __expf(s[j] * scale - m);
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffff, sum, o);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = sum;
    __syncthreads();
    sum = 0.f;
    for (int w = 0; w < (int)(blockDim.x >> 5); ++w) sum += red[w];
    const float inv = 1.f / sum;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
        from_f(j < limit ? __expf(s[j] * scale - m) * inv : 0.f, p + j);
}

// Paged decode attention. q, out: [batch, q_heads, HEAD_DIM]; k_cache, v_cache:
// [num_blocks, BLOCK, kv_heads, HEAD_DIM]; tables: [batch, max_blocks]; lens: [batch].
// grid (q_heads, batch), block WARPS*32 threads.
extern "C" __global__ void paged_decode_attention(
        const T* __restrict__ q, const T* __restrict__ k_cache, const T* __restrict__ v_cache,
        const int* __restrict__ tables, const int* __restrict__ lens, T* __restrict__ out,
        int q_heads, int kv_heads, int max_blocks, float scale) {
    constexpr int PER = HEAD_DIM / 32;
    const int h = blockIdx.x, b = blockIdx.y;
    const int kvh = h / (q_heads / kv_heads);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int len = lens[b];
    const T* qp = q + ((size_t)b * q_heads + h) * HEAD_DIM + lane * PER;
    float qv[PER], acc[PER];
    for (int i = 0; i < PER; ++i) { qv[i] = to_f(qp[i]) * scale; acc[i] = 0.f; }
    float m = -CUDART_INF_F, l = 0.f;
    for (int t = warp; t < len; t += WARPS) {
        const int blk = tables[(size_t)b * max_blocks + t / BLOCK];
        const size_t base = (((size_t)blk * BLOCK + t % BLOCK) * kv_heads + kvh) * HEAD_DIM
                            + lane * PER;
        float s = 0.f;
        for (int i = 0; i < PER; ++i) s += qv[i] * to_f(k_cache[base + i]);
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffff, s, o);
        const float m_new = fmaxf(m, s);
        const float corr = __expf(m - m_new), p = __expf(s - m_new);
        l = l * corr + p;
        for (int i = 0; i < PER; ++i) acc[i] = acc[i] * corr + p * to_f(v_cache[base + i]);
        m = m_new;
    }
    __shared__ float sm[WARPS], sl[WARPS], sacc[WARPS][HEAD_DIM];
    if (lane == 0) { sm[warp] = m; sl[warp] = l; }
    for (int i = 0; i < PER; ++i) sacc[warp][lane * PER + i] = acc[i];
    __syncthreads();
    float gm = -CUDART_INF_F;
    for (int w = 0; w < WARPS; ++w) gm = fmaxf(gm, sm[w]);
    for (int d = threadIdx.x; d < HEAD_DIM; d += blockDim.x) {
        float num = 0.f, den = 0.f;
        for (int w = 0; w < WARPS; ++w) {
            const float f = sm[w] == -CUDART_INF_F ? 0.f : __expf(sm[w] - gm);
            num += f * sacc[w][d];
            den += f * sl[w];
        }
        from_f(num / den, out + ((size_t)b * q_heads + h) * HEAD_DIM + d);
    }
}
"""


def kernel_defines(*, dtype: str, head_dim: int, block_size: int) -> dict[str, str]:
    """Preprocessor definitions the kernels need for one model and dtype."""
    if dtype not in C_TYPE:
        raise ConfigError("dtype", dtype, f"one of {sorted(C_TYPE)} for GPU timing")
    if head_dim % 32 or head_dim > 256:
        raise ConfigError("head_dim", head_dim, "a multiple of 32 up to 256")
    return {
        "T": C_TYPE[dtype],
        "HEAD_DIM": str(head_dim),
        "BLOCK": str(block_size),
        "WARPS": str(DECODE_WARPS),
    }


def kernel_source(*, dtype: str, head_dim: int, block_size: int) -> str:
    """The CUDA source with its definitions prepended, ready for SourceModule or nvcc."""
    defs = kernel_defines(dtype=dtype, head_dim=head_dim, block_size=block_size)
    head = "".join(f"#define {k} {v}\n" for k, v in defs.items())
    return head + KERNEL_SOURCE


# ----------------------------------------------------------------------------- cuBLAS


def find_cublas() -> str:
    """Path of libcublas: $SLA_PLANNER_CUBLAS, the nvidia-cublas wheel, CUDA_ROOT, ldconfig."""
    explicit = os.environ.get("SLA_PLANNER_CUBLAS")
    if explicit:
        return explicit
    candidates: list[str] = []
    for base in sys.path:
        candidates += sorted(
            glob.glob(os.path.join(base, "nvidia", "cublas", "lib", "libcublas.so*"))
        )
    root = os.environ.get("CUDA_ROOT", "/usr/local/cuda")
    for lib in ("lib64", "lib", "targets/x86_64-linux/lib"):
        candidates += sorted(glob.glob(os.path.join(root, lib, "libcublas.so*")))
    for c in candidates:
        if Path(c).is_file() and "Lt" not in Path(c).name:
            return c
    found = ctypes.util.find_library("cublas")
    if found:
        return found
    raise ConfigError(
        "SLA_PLANNER_CUBLAS",
        None,
        "the path of libcublas.so (CUDA toolkit or `pip install nvidia-cublas-cu12`)",
    )


class Cublas:
    """A cuBLAS handle on the current context; row-major GEMM helpers."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or find_cublas()
        self.lib = ctypes.CDLL(self.path)
        self.handle = ctypes.c_void_p()
        self._check(self.lib.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")
        self._one = ctypes.c_float(1.0)
        self._zero = ctypes.c_float(0.0)
        vp, i, ll = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
        self.lib.cublasGemmEx.argtypes = [
            vp,
            i,
            i,
            i,
            i,
            i,
            vp,
            vp,
            i,
            i,
            vp,
            i,
            i,
            vp,
            vp,
            i,
            i,
            i,
            i,
        ]
        self.lib.cublasGemmStridedBatchedEx.argtypes = [
            vp,
            i,
            i,
            i,
            i,
            i,
            vp,
            vp,
            i,
            i,
            ll,
            vp,
            i,
            i,
            ll,
            vp,
            vp,
            i,
            i,
            ll,
            i,
            i,
            i,
        ]

    @staticmethod
    def _check(status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"{what} failed with cublasStatus {status}")

    def version(self) -> int:
        v = ctypes.c_int()
        self._check(self.lib.cublasGetVersion_v2(self.handle, ctypes.byref(v)), "version")
        return v.value

    def gemm(
        self, a: int, b: int, c: int, *, m: int, n: int, k: int, dtype: str, out_dtype: str
    ) -> None:
        """Row-major C[m,n] = A[m,k] @ B[k,n] (device pointers)."""
        t, tc = CUDA_DTYPE[dtype], CUDA_DTYPE[out_dtype]
        self._check(
            self.lib.cublasGemmEx(
                self.handle,
                CUBLAS_OP_N,
                CUBLAS_OP_N,
                n,
                m,
                k,
                ctypes.byref(self._one),
                b,
                t,
                n,
                a,
                t,
                k,
                ctypes.byref(self._zero),
                c,
                tc,
                n,
                CUBLAS_COMPUTE_32F,
                CUBLAS_GEMM_DEFAULT,
            ),
            "cublasGemmEx",
        )

    def gemm_batched(
        self,
        a: int,
        b: int,
        c: int,
        *,
        m: int,
        n: int,
        k: int,
        lda: int,
        ldb: int,
        ldc: int,
        stride_a: int,
        stride_b: int,
        stride_c: int,
        batch: int,
        trans_b: bool,
        dtype: str,
        out_dtype: str,
    ) -> None:
        """Row-major batched C[m,n] = A[m,k] @ op(B), op(B) = B^T ([n,k]) if ``trans_b``."""
        t, tc = CUDA_DTYPE[dtype], CUDA_DTYPE[out_dtype]
        op_b = CUBLAS_OP_T if trans_b else CUBLAS_OP_N
        self._check(
            self.lib.cublasGemmStridedBatchedEx(
                self.handle,
                op_b,
                CUBLAS_OP_N,
                n,
                m,
                k,
                ctypes.byref(self._one),
                b,
                t,
                ldb,
                stride_b,
                a,
                t,
                lda,
                stride_a,
                ctypes.byref(self._zero),
                c,
                tc,
                ldc,
                stride_c,
                batch,
                CUBLAS_COMPUTE_32F,
                CUBLAS_GEMM_DEFAULT,
            ),
            "cublasGemmStridedBatchedEx",
        )

    def close(self) -> None:
        if self.handle:
            self.lib.cublasDestroy_v2(self.handle)
            self.handle = ctypes.c_void_p()
