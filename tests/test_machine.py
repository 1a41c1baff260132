"""The machine record that every timing carries: CPU model, cores, load, measured matmul speed."""

from __future__ import annotations

import math

from tfp_audio_vae import machine


def test_matmul_speed_is_measured_and_scales_with_the_work():
    small = machine.matmul_gflops(size=64, repeats=3)
    assert math.isfinite(small) and small > 0
    # a 512^2 product has 512x the FLOPs of a 64^2 one; it must not take 512x as long per FLOP
    assert machine.matmul_gflops(size=512, repeats=3) > small / 4


def test_machine_record_names_the_cpu_and_its_speed():
    record = machine.machine_record()
    assert set(record) == {"cpu_model", "cpu_count", "load_average_1min", "matmul_gflops_fp32"}
    assert record["cpu_model"] and record["cpu_count"] >= 1
    assert record["matmul_gflops_fp32"] > 0
