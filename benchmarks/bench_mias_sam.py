"""Stage timings and memory of the ``mias-sam`` detector, on generated images and random weights.

For each SAM variant (the tiny test network, and the real ViT-B at 1024 by
default) this fits the detector on a few generated training slices and
predicts a few test slices, then prints per image: encoder time, scoring
time (patch features, kNN search, map), decoder time (prompt, decode,
upscale), memory-bank bytes per training image, peak memory, and how many
times each image went through the encoder (1 here; the published code
encodes every test image twice).

Each variant runs in its own child process, so peak memory is its own.
Weights are random (``weights=random-init``): timings and memory do not
depend on the values.

    python benchmarks/bench_mias_sam.py                         # tiny and vit_b on the CPU
    python benchmarks/bench_mias_sam.py --variants tiny --train 16 --test 8
    python benchmarks/bench_mias_sam.py --device cuda --variants vit_b,vit_h --train 8 --test 8 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# This file shares its name with the plugin package: keep its own folder off the import path.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

DEFAULT_COUNTS = {"tiny": (8, 4), "vit_b": (1, 1), "vit_l": (1, 1), "vit_h": (1, 1), "medsam": (1, 1)}


def generated_cases(seed: int, split: str, n: int, anomalous: bool):
    from bench.contract import LabelledCase

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:256, :256]
    out = []
    for i in range(n):
        image = 0.35 + 0.1 * np.sin(xx / 9.0 + i) * np.cos(yy / 13.0) + rng.normal(0, 0.03, (256, 256))
        mask = None
        if anomalous and i % 2:
            cy, cx = rng.integers(64, 192, 2)
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < 24**2
            image[mask] = 0.95
        image = (np.rint(np.clip(image, 0, 1) * 255) / 255).astype(np.float32)
        out.append(LabelledCase(f"{split}/{i:03d}", image, mask, "brain", split, int(mask is not None)))
    return out


def measure(variant: str, n_train: int, n_test: int, device: str, batch_size: int) -> dict:
    """Fit and predict once; return the figures for one variant (run in a child process)."""
    import torch

    from bench.contract import DetectorContext
    from bench_mias_sam import MiasSam, MiasSamConfig

    train = generated_cases(0, "train", n_train, False)
    test = generated_cases(1, "test", n_test, True)
    with tempfile.TemporaryDirectory() as work:
        config = MiasSamConfig(sam_variant=variant, weights="random-init", normalization="per-image")
        detector = MiasSam(config, DetectorContext(device=device, seed=0, work_dir=Path(work), batch_size=batch_size))
        start = time.perf_counter()
        pipeline = detector.pipeline  # builds the network
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        detector.fit(train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        detector.predict(test)
        predict_s = time.perf_counter() - start
    times = pipeline.times
    per_image = times.per_image()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {
        "variant": variant,
        "device": device,
        "encoder_input": pipeline.sam.image_encoder.img_size,
        "threads": torch.get_num_threads(),
        "train_images": n_train,
        "test_images": n_test,
        "build_s": build_s,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "encode_s_per_image": per_image["encode_s"],
        "score_s_per_image": per_image["score_s"],
        "decode_s_per_image": per_image["decode_s"],
        "bank_bytes_per_train_image": pipeline.bank.nbytes / n_train,
        "peak_rss_bytes": peak_rss,
        "peak_cuda_bytes": torch.cuda.max_memory_allocated() if device.startswith("cuda") else None,
        "encodes_per_image": times.encoded / (n_train + n_test),
        "decodes_per_test_image": times.decoded / n_test,
        "faiss_device": pipeline.bank.device,
    }


def _child(args: argparse.Namespace, variant: str) -> dict:
    n_train, n_test = DEFAULT_COUNTS[variant]
    cmd = [
        sys.executable,
        __file__,
        "--one",
        variant,
        "--train",
        str(args.train or n_train),
        "--test",
        str(args.test or n_test),
        "--device",
        args.device,
        "--batch-size",
        str(args.batch_size),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"benchmark of {variant} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    def mib(b):
        return "-" if b is None else f"{b / 2**20:,.1f} MiB"

    lines = [
        f"{'variant':8} {'input':>5} {'train':>5} {'test':>4} {'encode/img':>11} {'score/img':>10} "
        f"{'decode/img':>11} {'bank/train img':>14} {'peak RSS':>11} {'peak CUDA':>11} {'encodes/img':>11}"
    ]
    for r in rows:
        lines.append(
            f"{r['variant']:8} {r['encoder_input']:>5} {r['train_images']:>5} {r['test_images']:>4} "
            f"{r['encode_s_per_image']:>10.3f}s {r['score_s_per_image']:>9.3f}s {r['decode_s_per_image']:>10.3f}s "
            f"{mib(r['bank_bytes_per_train_image']):>14} {mib(r['peak_rss_bytes']):>11} "
            f"{mib(r['peak_cuda_bytes']):>11} {r['encodes_per_image']:>11.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="tiny,vit_b", help="comma-separated sam_variant values")
    parser.add_argument("--train", type=int, default=0, help="training images (default: per variant)")
    parser.add_argument("--test", type=int, default=0, help="test images (default: per variant)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n_train, n_test = DEFAULT_COUNTS[args.one]
        row = measure(args.one, args.train or n_train, args.test or n_test, args.device, args.batch_size)
        print(json.dumps(row))
        return
    rows = []
    for variant in args.variants.split(","):
        print(f"measuring {variant} ...", file=sys.stderr, flush=True)
        rows.append(_child(args, variant.strip()))
    print(json.dumps(rows, indent=2) if args.json else _table(rows))
    if any(r["encodes_per_image"] != 1.0 for r in rows):
        raise SystemExit("an image was encoded more than once")


if __name__ == "__main__":
    main()
