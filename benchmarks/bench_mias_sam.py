"""Cost and quality of the ``mias-sam`` detector on generated data and random weights; prints figures.

Four measurements, each a sub-command (``all`` runs every one):

``banks``   Per memory-bank option, on the synthetic sets (the tiny SAM, whose
            patch features have the published shape): bytes per training image,
            search seconds per image, agreement of the anomaly maps with the exact
            bank's (Pearson r over every test pixel; largest absolute difference
            after min-max scaling by the exact maps' range), how far the prompt
            point moves (pixels, mean over test images), and the DICE of the
            reported masks minus the exact bank's, in points. Encodes are shared
            by all options through the embedding cache.
``encoder`` ViT-B with random weights (relative positions drawn at random too, so
            the bias path is exercised): encoder seconds per image with
            segment-anything's attention and with the fused one, alternated in one
            process; the outputs compared (embeddings, maps, masks); achieved
            GFLOP/s (FLOPs counted by torch's FlopCounterMode) against this CPU's
            float32 peak; peak RSS of each at batch 1, in child processes; and
            the fused encoder's seconds per image at batch 1 and at batch 4.
``encoder-batch`` both kernels at ``--batch`` images per call (default 8, what
            the defaults chose before the fused attention), alternating.
``run``     One ViT-B run at the defaults (child process): per-stage seconds per
            image (encode, search, map, decode), encodes per image, the encoder
            batch chosen from memory, peak RSS (target: at most 4 GiB).
``sweep``   ``mias-bench run`` on the synthetic brain set: one run without the
            cache, then one command sweeping 3 x 3 post-encoder settings
            (``--set mias-sam.k=1,3,5 --set mias-sam.gamma=3,5,7``) with it.

    python benchmarks/bench_mias_sam.py all
    python benchmarks/bench_mias_sam.py banks --modalities brain --json
    python benchmarks/bench_mias_sam.py encoder --images 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from measure import peak_rss

# This file shares its name with the plugin package: keep its own folder off the import path.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

BANK_OPTIONS = {
    "exact": {},
    "float16": {"bank_dtype": "float16"},
    "random-10%": {"bank_coreset": "random", "bank_coreset_ratio": 0.1},
    "greedy-10%": {"bank_coreset": "greedy", "bank_coreset_ratio": 0.1},
    "greedy-10%-f16": {"bank_coreset": "greedy", "bank_coreset_ratio": 0.1, "bank_dtype": "float16"},
    "greedy-19%-f16": {"bank_coreset": "greedy", "bank_coreset_ratio": 0.19, "bank_dtype": "float16"},
    "ivf": {"bank_index": "ivf", "ivf_lists": 256, "ivf_probe": 16},
    "ivf-pq-128": {"bank_index": "ivf-pq", "ivf_lists": 256, "ivf_probe": 16, "pq_subquantizers": 128},
    "ivf-pq-64": {"bank_index": "ivf-pq", "ivf_lists": 256, "ivf_probe": 16, "pq_subquantizers": 64},
}
TINY = {"sam_variant": "tiny", "weights": "random-init"}
MIB = 2**20


def synthetic(root: Path, modality: str, **sizes):
    """The synthetic ``modality`` set under ``root`` (written once), as framed cases per split."""
    from bench.datasets.registry import open_dataset
    from bench.datasets.synth import generate_modality
    from bench.demo import DEMO_DATASETS
    from bench.frame import get_frame

    if not (root / modality).exists():
        generate_modality(root, modality, seed=0, **sizes)
    dataset = open_dataset(DEMO_DATASETS[modality], root / modality)
    frame = get_frame("paper-256")
    splits = ("train", "valid", "test")
    return dataset, {split: [frame.apply(ref.load()) for ref in dataset.cases(split)] for split in splits}


def bank_rows(root: Path, modality: str) -> list[dict]:
    """Every bank option on one synthetic set (tiny SAM, validation normalisation), compared with the exact bank."""
    from bench.contract import DetectorContext
    from bench.metrics import dice
    from bench_mias_sam import MiasSam, MiasSamConfig
    from bench_mias_sam.prompt import centre_of_gravity

    _, cases = synthetic(root / "data", modality)
    train = [c for c in cases["train"] if c.label == 0]
    anomalous = [i for i, c in enumerate(cases["test"]) if c.label == 1]
    os.environ["MIAS_SAM_EMBEDDING_CACHE"] = str(root / "cache")
    rows, exact = [], None
    for name, options in BANK_OPTIONS.items():
        shutil.rmtree(root / "cache" / "knn", ignore_errors=True)  # searches are measured; encodes are shared
        detector = MiasSam(MiasSamConfig(**TINY, **options), DetectorContext(device="cpu", seed=0, batch_size=8))
        detector.fit(train)
        detector.calibrate(cases["valid"])
        predictions = detector.predict(cases["test"])
        maps = np.stack([p.anomaly_map for p in predictions]).astype(np.float64)
        dices = [dice(predictions[i].mask, cases["test"][i].truth()) for i in anomalous]
        notes = detector.run_info().notes
        scale = notes["norm_max"] - notes["norm_min"]
        points = np.array([centre_of_gravity((m - notes["norm_min"]) / scale, 5.0) for m in maps])
        if exact is None:
            exact = (maps, float(np.mean(dices)), maps.min(), maps.max(), points)
        lo, hi = exact[2], exact[3]
        shift = np.hypot(*(points - exact[4]).T)
        rows.append(
            {
                "modality": modality,
                "option": name,
                "bytes_per_train_image": notes["bank_bytes_per_train_image"],
                "search_s_per_image": notes["search_s_per_image"],
                "pearson_r": float(np.corrcoef(maps.ravel(), exact[0].ravel())[0, 1]),
                "max_abs_diff_normalised": float(np.abs((maps - exact[0]) / (hi - lo)).max()),
                "prompt_shift_px_mean": float(shift.mean()),
                "prompt_shift_px_max": float(shift.max()),
                "dice": float(np.mean(dices)),
                "dice_diff_points": 100 * (float(np.mean(dices)) - exact[1]),
            }
        )
        print(f"  {modality} {name}: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def cpu_peak_gflops() -> tuple[float, str]:
    """float32 peak of this machine's cores: cores x FMA units x lanes x 2 FLOP x clock (assumptions stated)."""
    flags, mhz, model = set(), 0.0, "unknown CPU"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                flags = set(value.split())
            elif key.strip() == "cpu MHz":
                mhz = max(mhz, float(value))
            elif key.strip() == "model name":
                model = value.strip()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    units = 2  # two FMA pipes per core (Zen 2-4, most Xeons); one on some AVX-512 parts
    cores = len(os.sched_getaffinity(0))
    peak = cores * units * lanes * 2 * mhz / 1000
    isa = "AVX-512" if lanes == 16 else "AVX2+FMA" if lanes == 8 else "SSE"
    return peak, f"{model}: {cores} cores x {units} FMA units x {lanes} fp32 lanes ({isa}) x 2 x {mhz / 1000:.2f} GHz"


def encoder_flops(variant: str) -> float:
    """FLOPs of one image through the encoder (FlopCounterMode on the meta device: no compute)."""
    import torch
    from segment_anything.build_sam import sam_model_registry
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        sam = sam_model_registry[variant](checkpoint=None)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        sam.image_encoder(torch.empty(1, 3, sam.image_encoder.img_size, sam.image_encoder.img_size, device="meta"))
    return float(counter.get_total_flops())


def encoder_child(kernel: str) -> dict:
    """One ViT-B image at batch 1 with ``kernel`` attention: seconds and this process's peak RSS."""
    from bench_mias_sam.encoder import SamEncoder
    from bench_mias_sam.sam_models import load_sam

    sam = load_sam("vit_b", "random-init", seed=0, device="cpu").model
    image = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    encoder = SamEncoder(sam, device="cpu", attention=kernel, batch=1)
    start = time.perf_counter()
    encoder([image])
    return {"kernel": kernel, "seconds": time.perf_counter() - start, "peak_rss": peak_rss()}


def _maps_and_masks(sam, embeddings: list, pictures: list) -> tuple:
    """Bank from the first embedding; maps, masks and SAM's upscaled logits of the others (gamma 5)."""
    import torch

    from bench_mias_sam.encoder import SamEncoder
    from bench_mias_sam.pipeline import MiasSamPipeline

    pipeline = MiasSamPipeline(sam, device="cpu", k=1, sigma=4.0, encoder=SamEncoder(sam, device="cpu"))
    pipeline.add_to_bank(embeddings[0], ["train"])
    pipeline.finish_bank()
    test = torch.cat(embeddings[1:])
    maps = pipeline.maps_from_scores(pipeline.scores(pictures[1:], [f"t{i}" for i in range(len(test))], test))
    logits, masks = [], []
    upscale = sam.postprocess_masks
    sam.postprocess_masks = lambda *a, **k: logits.append(upscale(*a, **k)[0].numpy().copy()) or upscale(*a, **k)
    try:
        for i in range(len(test)):
            norm = (maps[i] - maps[i].min()) / (maps[i].max() - maps[i].min())
            masks.append(pipeline.segment(test[i : i + 1], norm, 5.0, 256, "benchmark")[0])
    finally:
        del sam.postprocess_masks
    return test, maps, np.stack(masks), np.stack(logits)


def encoder_report(images: int) -> dict:
    """Side by side in this process: segment-anything's attention vs the fused one on ViT-B."""
    import torch

    from bench_mias_sam.encoder import SamEncoder
    from bench_mias_sam.pipeline import model_image
    from bench_mias_sam.sam_models import load_sam

    sam = load_sam("vit_b", "random-init", seed=0, device="cpu").model
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # random weights leave relative positions at zero; draw them so the bias is used
        for block in sam.image_encoder.blocks:
            block.attn.rel_pos_h.normal_(0, 0.02, generator=generator)
            block.attn.rel_pos_w.normal_(0, 0.02, generator=generator)
    with tempfile.TemporaryDirectory() as tmp:
        _, cases = synthetic(Path(tmp), "brain", n_train=1, n_valid=2, n_test=2 * images)
    pictures = [model_image(c.image, 256)[0] for c in cases["train"] + cases["test"]][: images + 1]
    seconds = {"reference": [], "fused": []}
    cpu_seconds = {"reference": [], "fused": []}  # this process's CPU time: less sensitive to a shared machine
    embeddings = {"reference": [], "fused": []}
    for i, picture in enumerate(pictures):  # alternated (and which goes first too), so both meet the same load
        for kernel in ("reference", "fused") if i % 2 == 0 else ("fused", "reference"):
            encoder = SamEncoder(sam, device="cpu", attention=kernel, batch=1)
            start, cpu = time.perf_counter(), time.process_time()
            embeddings[kernel].append(encoder([picture]))
            seconds[kernel].append(time.perf_counter() - start)
            cpu_seconds[kernel].append(time.process_time() - cpu)
    outputs = {kernel: _maps_and_masks(sam, embeddings[kernel], pictures) for kernel in ("reference", "fused")}
    # CPU throughput by batch: four images one at a time, then the same four in one call, twice
    batched_s = {1: [], 4: []}
    four = (pictures * 4)[:4]
    for _ in range(2):
        for batch in (1, 4):
            encoder = SamEncoder(sam, device="cpu", attention="fused", batch=batch)
            start = time.perf_counter()
            encoder(four)
            batched_s[batch].append((time.perf_counter() - start) / 4)
    (ref_e, ref_m, ref_k, ref_l), (new_e, new_m, new_k, _) = outputs["reference"], outputs["fused"]
    changed = ref_k != new_k
    flops = encoder_flops("vit_b")
    peak, how = cpu_peak_gflops()
    ref_s, new_s = float(np.median(seconds["reference"])), float(np.median(seconds["fused"]))
    children = [run_child(["encoder-child", kernel]) for kernel in ("reference", "fused")]
    return {
        "images": len(pictures),
        "threads": torch.get_num_threads(),
        "reference_s_per_image": ref_s,
        "fused_s_per_image": new_s,
        "fused_over_reference": new_s / ref_s,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "fused_over_reference_cpu_time": float(np.median(cpu_seconds["fused"]) / np.median(cpu_seconds["reference"])),
        "embedding_max_abs_diff": float((ref_e - new_e).abs().max()),
        "embedding_max_abs": float(ref_e.abs().max()),
        "map_max_abs_diff_normalised": float(np.abs(ref_m - new_m).max() / (ref_m.max() - ref_m.min())),
        "mask_pixels_differing": int(changed.sum()),
        "mask_pixels": int(changed.size),
        "largest_abs_logit_where_differing": float(np.abs(ref_l[changed]).max()) if changed.any() else None,
        "encoder_gflop_per_image": flops / 1e9,
        "reference_gflops": flops / 1e9 / ref_s,
        "fused_gflops": flops / 1e9 / new_s,
        "cpu_peak_gflops": peak,
        "cpu_peak_how": how,
        "peak_rss_batch1": {c["kernel"]: c["peak_rss"] for c in children},
        "fused_s_per_image_by_batch": {str(b): float(np.median(v)) for b, v in batched_s.items()},
    }


def run_child_measure(variant: str, n_train: int, n_test: int) -> dict:
    """One run at the defaults (validation normalisation), cache off: stage times, encodes, batch, peak RSS."""
    from bench.contract import DetectorContext
    from bench_mias_sam import MiasSam, MiasSamConfig

    os.environ["MIAS_SAM_EMBEDDING_CACHE"] = "off"
    with tempfile.TemporaryDirectory() as tmp:
        _, cases = synthetic(Path(tmp), "brain", n_train=n_train, n_valid=2, n_test=n_test)
        detector = MiasSam(
            MiasSamConfig(sam_variant=variant, weights="random-init"),
            DetectorContext(device="cpu", seed=0, work_dir=Path(tmp) / "work", batch_size=8),
        )
        detector.fit([c for c in cases["train"] if c.label == 0])
        detector.calibrate(cases["valid"])
        detector.predict(cases["test"])
        notes = detector.run_info().notes
        images = len(cases["train"]) + sum(c.label == 0 for c in cases["valid"]) + len(cases["test"])
    return {
        "variant": variant,
        **{k: notes[k] for k in ("encode_s_per_image", "search_s_per_image", "map_s_per_image", "decode_s_per_image")},
        "encodes_per_image": notes["images_encoded"] / images,
        "encoder_batch": notes["encoder_batch"],
        "encoder_batch_from": notes["encoder_batch_from"],
        "peak_rss": peak_rss(),
    }


def sweep_report(root: Path, variant: str, sizes: dict) -> dict:
    """``mias-bench run`` once without the cache, then once with a 3 x 3 sweep (k x gamma) and the cache.

    Each is one CLI process, as a user runs it (the sweep is one command: one run per combination).
    """
    synthetic(root / "data", "brain", **sizes)
    base = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "mias-sam",
        "-d",
        "bmad-brain",
        "--data-root",
        str(root / "data" / "brain"),
    ]
    base += ["--device", "cpu", "--set", f"sam_variant={variant}", "--set", "weights=random-init"]
    sweep = ["--set", "mias-sam.k=1,3,5", "--set", "mias-sam.gamma=3,5,7"]

    def timed(extra: list[str], cache: str, db: Path) -> float:
        env = {**os.environ, "MIAS_SAM_EMBEDDING_CACHE": cache, "MIAS_BENCH_DB": str(db)}
        env["MIAS_BENCH_CACHE"] = str(root / "bench-cache")  # the runner's prediction cache, private
        start = time.perf_counter()
        subprocess.run(base + extra, env=env, check=True, capture_output=True, text=True)
        return time.perf_counter() - start

    shutil.rmtree(root / "emb", ignore_errors=True)
    one = timed([], "off", root / f"one-{time.time_ns()}.db")
    swept = timed(sweep, str(root / "emb"), root / f"sweep-{time.time_ns()}.db")
    return {
        "variant": variant,
        "one_run_s": one,
        "sweep_9_runs_s": swept,
        "ratio": swept / one,
    }


def encoder_batch_report(batch: int, rounds: int) -> dict:
    """Both kernels at one batch size, side by side: ``batch`` images per call, alternating, ``rounds`` times each.

    At batch 8 (what the defaults chose before the fused attention) this
    compares with the encoder as it ran by default, not only kernel for kernel
    at batch 1. segment-anything's attention needs about 16 GiB at batch 8.
    """
    import torch

    from bench_mias_sam.encoder import SamEncoder
    from bench_mias_sam.pipeline import model_image
    from bench_mias_sam.sam_models import load_sam

    sam = load_sam("vit_b", "random-init", seed=0, device="cpu").model
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # as in encoder_report: relative positions drawn, so the bias is not all zeros
        for block in sam.image_encoder.blocks:
            block.attn.rel_pos_h.normal_(0, 0.02, generator=generator)
            block.attn.rel_pos_w.normal_(0, 0.02, generator=generator)
    with tempfile.TemporaryDirectory() as tmp:
        _, cases = synthetic(Path(tmp), "brain", n_train=1, n_valid=2, n_test=batch + 1)
    pictures = [model_image(c.image, 256)[0] for c in cases["test"]][:batch]
    seconds = {"reference": [], "fused": []}
    cpu_seconds = {"reference": [], "fused": []}
    for i in range(rounds):
        for kernel in ("reference", "fused") if i % 2 == 0 else ("fused", "reference"):
            encoder = SamEncoder(sam, device="cpu", attention=kernel, batch=batch)
            start, cpu = time.perf_counter(), time.process_time()
            encoder(pictures)
            seconds[kernel].append((time.perf_counter() - start) / batch)
            cpu_seconds[kernel].append((time.process_time() - cpu) / batch)
    wall = {k: float(np.mean(v)) for k, v in seconds.items()}
    cpu = {k: float(np.mean(v)) for k, v in cpu_seconds.items()}
    return {
        "batch": batch,
        "rounds": rounds,
        "threads": torch.get_num_threads(),
        "s_per_image": seconds,
        "cpu_s_per_image": cpu_seconds,
        "fused_over_reference": wall["fused"] / wall["reference"],
        "fused_over_reference_cpu_time": cpu["fused"] / cpu["reference"],
    }


def run_child(args: list[str]) -> dict:
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=os.environ)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"benchmark child {args} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_banks(rows: list[dict]) -> None:
    print(
        f"{'set':7} {'option':15} {'MiB/train img':>13} {'search s/img':>12} {'r':>8} {'max|d|':>8} "
        f"{'shift px':>9} {'DICE':>6} {'dDICE':>6}"
    )
    for r in rows:
        print(
            f"{r['modality']:7} {r['option']:15} {r['bytes_per_train_image'] / MIB:13.3f} "
            f"{r['search_s_per_image']:12.3f} {r['pearson_r']:8.5f} {r['max_abs_diff_normalised']:8.4f} "
            f"{r['prompt_shift_px_mean']:9.2f} {100 * r['dice']:6.2f} {r['dice_diff_points']:+6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = ["all", "banks", "encoder", "encoder-batch", "run", "sweep", "encoder-child", "run-child"]
    parser.add_argument("what", choices=modes)
    parser.add_argument("kernel", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--modalities", default="brain,liver,retina")
    parser.add_argument("--images", type=int, default=2, help="ViT-B test images for `encoder`")
    parser.add_argument("--batch", type=int, default=8, help="images per encoder call for `encoder-batch`")
    parser.add_argument("--rounds", type=int, default=2, help="calls per kernel for `encoder-batch`")
    parser.add_argument("--variant", default="vit_b", help="sam_variant for `run`")
    parser.add_argument("--sweep-variant", default="tiny", help="sam_variant for `sweep` (vit_b: use --train/--test)")
    parser.add_argument("--train", type=int, default=2)
    parser.add_argument("--test", type=int, default=2)
    parser.add_argument("--work", help="folder for generated data and caches (default: a temporary one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.what == "encoder-child":
        print(json.dumps(encoder_child(args.kernel)))
        return
    if args.what == "run-child":
        print(json.dumps(run_child_measure(args.variant, args.train, args.test)))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-mias-sam-"))
    report: dict = {}
    if args.what in ("all", "banks"):
        rows = [row for m in args.modalities.split(",") for row in bank_rows(work / "banks", m.strip())]
        report["banks"] = rows
        if not args.json:
            print_banks(rows)
    if args.what in ("all", "encoder"):
        report["encoder"] = encoder_report(args.images)
        if not args.json:
            print(json.dumps(report["encoder"], indent=2))
    if args.what == "encoder-batch":
        report["encoder_batch"] = encoder_batch_report(args.batch, args.rounds)
        if not args.json:
            print(json.dumps(report["encoder_batch"], indent=2))
    if args.what in ("all", "run"):
        child = ["run-child", "--variant", args.variant, "--train", str(args.train), "--test", str(args.test)]
        report["run"] = run_child(child)
        if not args.json:
            print(json.dumps(report["run"], indent=2))
    if args.what in ("all", "sweep"):
        variant = args.sweep_variant
        sizes = {} if variant == "tiny" else {"n_train": args.train, "n_valid": 2, "n_test": args.test}
        report["sweep"] = sweep_report(work / f"sweep-{variant}", variant, sizes)
        if not args.json:
            print(json.dumps(report["sweep"], indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    if "run" in report and report["run"]["encodes_per_image"] != 1.0:
        raise SystemExit("an image was encoded more than once")


if __name__ == "__main__":
    main()
