"""A CUDA device session for timing: context, memory pool, CUDA-event timer, device facts.

PyCUDA is imported here, inside functions and methods only, so the rest of the profiler
(and ``sla-planner --help``) works on machines without it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from planner.errors import ConfigError
from planner.profiler.metadata import DeviceInfo


def import_pycuda() -> Any:
    """``pycuda.driver``, or ConfigError saying how to get it."""
    try:
        import pycuda.driver as drv
    except ImportError as exc:
        raise ConfigError(
            "gpu",
            "pycuda",
            "pycuda installed with a CUDA driver present (`pip install 'sla-planner[gpu]'`, "
            "or `make gpu-wheel` then `pip install --no-index -f .whl pycuda`)",
        ) from exc
    return drv


class GpuSession:
    """Owns a context on one device, a memory pool and the events used for timing."""

    def __init__(self, device: int = 0) -> None:
        drv = import_pycuda()
        from pycuda.tools import DeviceMemoryPool

        drv.init()
        if device >= drv.Device.count():
            raise ConfigError("device", device, f"an index below {drv.Device.count()}")
        self.drv = drv
        self.device = drv.Device(device)
        self.context = self.device.make_context()
        self.pool = DeviceMemoryPool()
        self._start = drv.Event()
        self._end = drv.Event()

    def info(self) -> DeviceInfo:
        free, total = self.drv.mem_get_info()
        major, minor = self.device.compute_capability()
        drv_ver = self.drv.get_driver_version()
        built = self.drv.get_version()
        return DeviceInfo(
            name=self.device.name(),
            memory_bytes=int(total),
            free_bytes=int(free),
            compute_capability=f"{major}.{minor}",
            driver_version=f"{drv_ver // 1000}.{drv_ver % 1000 // 10}",
            cuda_version=".".join(str(v) for v in built),
            extra={
                "sm_count": self.device.get_attribute(
                    self.drv.device_attribute.MULTIPROCESSOR_COUNT
                )
            },
        )

    def alloc(self, nbytes: int) -> Any:
        """A pooled device buffer (``int(buf)`` is its address); freed back to the pool."""
        return self.pool.allocate(max(1, int(nbytes)))

    def fill_random(self, buf: Any, nbytes: int, *, seed: int = 0) -> None:
        """Small random values (fp16/bf16 read them as finite numbers; exact values don't
        matter for timing, NaNs would)."""
        import numpy as np

        rng = np.random.default_rng(seed)
        # 0x3C00 +/- small mantissa noise is ~1.0 in fp16; in bf16 0x3C00 is ~0.0078
        host = (0x3C00 + rng.integers(0, 256, size=(nbytes + 1) // 2)).astype(np.uint16)
        self.drv.memcpy_htod(int(buf), host.tobytes()[:nbytes])

    def time_ms(
        self, fn: Callable[[int], None], *, warmup: int = 3, repeat: int = 10, trials: int = 3
    ) -> float:
        """Median over ``trials`` of the mean time of ``repeat`` back-to-back calls (ms).

        ``fn(i)`` gets the call index, so callers can alternate between weight copies
        and keep the L2 cache from flattering memory-bound kernels.
        """
        for i in range(warmup):
            fn(i)
        results = []
        for _ in range(trials):
            self._start.record()
            for i in range(repeat):
                fn(i)
            self._end.record()
            self._end.synchronize()
            results.append(self._start.time_till(self._end) / repeat)
        return float(statistics.median(results))

    def copy_bandwidth_gb_s(self, nbytes: int = 1 << 30) -> float:
        """Device-to-device copy bandwidth (read + write bytes / time), the decode roofline."""
        src, dst = self.alloc(nbytes), self.alloc(nbytes)
        try:
            ms = self.time_ms(lambda _: self.drv.memcpy_dtod(int(dst), int(src), nbytes))
        finally:
            src.free()
            dst.free()
        return 2 * nbytes / (ms / 1e3) / 1e9

    def close(self) -> None:
        self.pool.free_held()
        self.pool.stop_holding()
        self.context.pop()
        self.context.detach()
