"""benchmarks/gpu_check.py: a clean skip without CUDA, and every step's code run on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu_check.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "MIAS_SAM_EMBEDDING_CACHE": "off"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)


def test_without_cuda_it_says_so_in_one_line_and_exits_0():
    result = _run()
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and "no CUDA device" in result.stdout


@pytest.mark.slow
def test_every_step_runs_on_the_cpu_with_a_micro_sam():
    result = _run("--cpu-smoke", "--no-compile", "--budget", "300")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    failed = {k: v for k, v in report.items() if isinstance(v, dict) and "failed" in v}
    assert not failed
    encoder = report["encoder"]
    assert encoder["float32_batch1_images_per_s"] > 0 and encoder["bfloat16_chosen_batch"] >= 1
    assert 0.9 < report["bf16_vs_fp32"]["maps_pearson_r"] <= 1
    assert "faiss-cpu" in report["faiss_gpu_vs_cpu"]["skipped"]  # this environment's faiss has no GPU
    assert set(report["search_speed"]) == {"paper_11_images", "full_7500_images"}
    assert report["decode"]["decode_s_per_image"] > 0
    projection = report["bmad_brain_projection"]
    eras, dtypes = ("paper-2025", "authors-2026"), ("float32", "bfloat16")
    assert set(projection) == {f"{era}_{dtype}" for era in eras for dtype in dtypes}
    assert all(p["total_h"] > 0 for p in projection.values())
