"""The machine a timing was taken on: CPU model, cores, load and measured fp32 matmul speed.

Two-core machines of the same kind differ by 2x in wall time on the same run, so every timing the
package reports (examples, benchmarks) carries this record beside it; compare minutes across
machines only after dividing by ``matmul_gflops``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else `platform.processor`)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Measured fp32 matrix-multiply throughput of TensorFlow on this machine, in GFLOP/s.

    The best of ``repeats`` timed ``[size, size] @ [size, size]`` products (``2 size^3`` FLOPs
    each) after one warm-up; the best, not the mean, so a brief load spike does not lower it.
    """
    import tensorflow as tf

    a = tf.random.stateless_normal([size, size], seed=[0, 1])
    b = tf.random.stateless_normal([size, size], seed=[0, 2])
    tf.matmul(a, b).numpy()  # warm-up: thread pools and kernels
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def machine_record() -> dict[str, str | int | float]:
    """CPU model, logical cores, the 1-minute load average and ``matmul_gflops``, for a result file."""
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count() or 0,
        "load_average_1min": os.getloadavg()[0],
        "matmul_gflops_fp32": round(matmul_gflops(), 1),
    }
