"""A prepared GPU check of the ``mias-sam`` detector: run it as is on a machine with CUDA (about 4 minutes).

Without CUDA it prints one line and exits 0. With CUDA it measures, on
random weights and random features (rates do not depend on the values):

1. the ViT-B encoder's images/s at batch 1 and at the batch chosen from
   free memory, in float32 and bfloat16 autocast, and compiled
   (``torch.compile``, bfloat16, chosen batch; skipped when time is short);
2. the agreement of anomaly maps and masks computed from bfloat16 embeddings
   with those from float32 ones (Pearson r, largest difference after min-max
   scaling, share of mask pixels that differ);
3. faiss on the GPU against faiss on the CPU: the same squared distances
   for the plugin's exact float32 bank, and for its float16 bank (skipped, and
   said so, when this faiss has no GPU support);
4. float16 exact search speed on the GPU for a bank the size of BMAD brain's
   11-image bank (11 x 1,024 patches) and full bank (7,500 x 1,024 patches of
   1,024 values: 15.7 GB in float16), through faiss-gpu when present, else
   through a blocked torch search; a bank that does not fit the free memory
   is searched in parts (the time is the sum) and the report says so;
5. the decoder's seconds per image, and from all of the above a projection
   of a full BMAD brain run (7,500 training + 39 normal validation + 3,715
   test images) in both eras (11-image bank; every training image).

Prints a JSON report on stdout (``--out FILE`` also writes it); progress on
stderr. ``--cpu-smoke`` runs the same steps on the CPU with the tiny SAM and
small banks and a micro SAM (8 x 8 tokens), to check the script itself where
there is no GPU.

    python benchmarks/gpu_check.py
    python benchmarks/gpu_check.py --out gpu-check.json --budget 240
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

BMAD_BRAIN = {"train": 7500, "valid_normal": 39, "test": 3715}
PAPER_BANK_IMAGES = 11
PATCHES, DIM = 1024, 1024
GIB = 2**30


def log(message: str) -> None:
    print(f"gpu_check: {message}", file=sys.stderr, flush=True)


class Clock:
    """Time left of the budget; steps that would not fit are skipped and reported."""

    def __init__(self, budget: float):
        self.end = time.perf_counter() + budget

    def left(self) -> float:
        return self.end - time.perf_counter()


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls (after one warm-up call)."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def build_sam(variant: str, device: str):
    """ViT-B (or any published variant) with random weights; ``micro`` is the CPU smoke run's network."""
    import torch

    from bench_mias_sam.sam_models import load_sam

    if variant != "micro":
        return load_sam(variant, "random-init", seed=0, device=device).model
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    # 8 x 8 tokens of 16 channels: small enough for bfloat16 on a CPU without bf16 units
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        encoder = ImageEncoderViT(
            img_size=64, patch_size=8, embed_dim=16, depth=1, num_heads=2, out_chans=16, use_rel_pos=True
        )
        prompt = PromptEncoder(embed_dim=16, image_embedding_size=(8, 8), input_image_size=(64, 64), mask_in_chans=4)
        transformer = TwoWayTransformer(depth=1, embedding_dim=16, mlp_dim=16, num_heads=2)
        decoder = MaskDecoder(transformer_dim=16, transformer=transformer, iou_head_hidden_dim=8)
        return Sam(encoder, prompt, decoder).eval().requires_grad_(False).to(device)


def encoder_section(variant: str, device: str, smoke: bool) -> dict:
    import torch

    from bench_mias_sam.encoder import SamEncoder

    sam = build_sam(variant, device)
    out: dict = {}
    image = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    for dtype in ("float32", "bfloat16"):
        chosen = SamEncoder(sam, device=device, dtype=dtype).batch_size
        out[f"{dtype}_chosen_batch"] = chosen
        for batch in sorted({1, chosen}):
            encoder = SamEncoder(sam, device=device, dtype=dtype, batch=batch)
            images = [image] * batch
            seconds = timed(lambda e=encoder, i=images: e(i), device, repeats=2 if smoke else (5 if batch == 1 else 2))
            out[f"{dtype}_batch{batch}_images_per_s"] = batch / seconds
            log(f"encoder {dtype} batch {batch}: {batch / seconds:.2f} images/s")
        if device.startswith("cuda"):
            out[f"{dtype}_peak_gib"] = torch.cuda.max_memory_allocated() / GIB
            torch.cuda.reset_peak_memory_stats()
    if device.startswith("cuda"):
        out["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
    return out


def compile_section(variant: str, device: str, clock: Clock, smoke: bool, batch: int) -> dict:
    """bfloat16 at the chosen batch through torch.compile (last: compiling ViT-B takes a minute or two)."""
    from bench_mias_sam.encoder import SamEncoder

    if clock.left() < 120 and not smoke:
        return {"skipped": f"{clock.left():.0f} s left of the budget; compiling ViT-B takes 1-2 minutes"}
    sam = build_sam(variant, device)
    image = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    encoder = SamEncoder(sam, device=device, dtype="bfloat16", batch=batch, compile=True)
    start = time.perf_counter()
    encoder([image] * batch)  # compiles
    sync(device)
    out = {"compile_s": time.perf_counter() - start}
    seconds = timed(lambda: encoder([image] * batch), device, repeats=2)
    out[f"bfloat16_compiled_batch{batch}_images_per_s"] = batch / seconds
    log(f"encoder bfloat16 compiled batch {batch}: {batch / seconds:.2f} images/s")
    return out


def agreement_section(variant: str, device: str) -> dict:
    """Maps and masks from bfloat16 embeddings against float32 ones (random images, bank of 4 images)."""
    from bench_mias_sam.encoder import SamEncoder
    from bench_mias_sam.pipeline import MiasSamPipeline

    sam = build_sam(variant, device)
    rng = np.random.default_rng(1)
    base = rng.integers(60, 200, (256, 256), dtype=np.uint8)
    pictures = []
    for _ in range(8):  # a shared texture with noise, so test images sit near the training ones
        noisy = np.clip(base.astype(int) + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
        pictures.append(np.repeat(noisy[:, :, None], 3, axis=2))
    results = {}
    for dtype in ("float32", "bfloat16"):
        encoder = SamEncoder(sam, device=device, dtype=dtype, batch=4)
        pipeline = MiasSamPipeline(sam, device=device, k=1, sigma=4.0, encoder=encoder)
        keys = [f"{dtype}-{i}" for i in range(8)]
        embeddings = pipeline.embed(pictures, keys)
        pipeline.add_to_bank(embeddings[:4], keys[:4])
        pipeline.finish_bank()
        maps = pipeline.maps_from_scores(pipeline.scores(pictures[4:], keys[4:], embeddings[4:]))
        lo, hi = maps.min(), maps.max()
        masks = [
            pipeline.segment(embeddings[4 + i : 5 + i], (maps[i] - lo) / (hi - lo), 5.0, 256, "gpu_check")[0]
            for i in range(4)
        ]
        results[dtype] = (maps.astype(np.float64), np.stack(masks))
    (m32, k32), (m16, k16) = results["float32"], results["bfloat16"]
    return {
        "maps_pearson_r": float(np.corrcoef(m32.ravel(), m16.ravel())[0, 1]),
        "maps_max_abs_diff_normalised": float(np.abs(m32 - m16).max() / (m32.max() - m32.min())),
        "mask_pixels_differing_share": float((k32 != k16).mean()),
    }


def faiss_section(smoke: bool) -> dict:
    """The plugin's GPU banks against its CPU banks on the same random features."""
    from bench_mias_sam.memory_bank import BankOptions, MemoryBank, faiss_has_gpu

    if not faiss_has_gpu():
        return {"skipped": "this faiss has no GPU support (faiss-cpu); install the `gpu` extra (faiss-gpu-cu12)"}
    rng = np.random.default_rng(2)
    n = (2 if smoke else PAPER_BANK_IMAGES) * PATCHES
    bank = rng.standard_normal((n, DIM), dtype=np.float32)
    queries = rng.standard_normal((4 * PATCHES, DIM), dtype=np.float32)
    out = {}
    for dtype in ("float32", "float16"):
        found = {}
        for device in ("cpu", "gpu"):
            memory = MemoryBank(DIM, device, BankOptions(dtype=dtype))
            for start in range(0, n, PATCHES):
                memory.add(bank[start : start + PATCHES])
            memory.finish()
            found[device] = memory.search(queries, 16)
        difference = np.abs(found["gpu"] - found["cpu"]) / np.maximum(found["cpu"], 1e-12)
        out[dtype] = {
            "max_relative_difference": float(difference.max()),
            "same_nearest_distance_share": float(np.isclose(found["gpu"][:, 0], found["cpu"][:, 0], rtol=1e-5).mean()),
        }
        log(f"faiss {dtype}: GPU vs CPU max relative difference {difference.max():.2e}")
    return out


#: Rows per block of the torch float16 search, and queries per distance matrix (1,024 x 262,144 fp32 = 1 GiB).
TORCH_BLOCK_ROWS, TORCH_QUERY_CHUNK = 262_144, 1024


def _torch_fp16_search_seconds(n: int, device: str, queries: int) -> tuple[float, str]:
    """Exact float16 search in torch (no faiss-gpu): one block of rows timed, times the number of blocks."""
    import torch

    block = min(n, TORCH_BLOCK_ROWS)
    q = torch.randn(queries, DIM, device=device, dtype=torch.float16)
    rows = torch.randn(block, DIM, device=device, dtype=torch.float16)
    row_norms = (rows.float() ** 2).sum(1)
    query_norms = (q.float() ** 2).sum(1, keepdim=True)

    def one_block():
        for start in range(0, queries, TORCH_QUERY_CHUNK):
            part = slice(start, start + TORCH_QUERY_CHUNK)
            d = query_norms[part] + row_norms[None] - 2 * (q[part] @ rows.T).float()
            torch.topk(d, 16, dim=1, largest=False)

    blocks = -(-n // block)
    note = f"one block of {block:,} rows timed x {blocks} blocks (merging the blocks' top-16 not counted)"
    return timed(one_block, device, repeats=3) * (n / block), note


def search_speed_section(device: str, smoke: bool) -> dict:
    """float16 exact search: seconds per test image (1,024 queries) on the 11-image and the full bank."""
    import torch

    from bench_mias_sam.memory_bank import faiss_has_gpu

    sizes = {"paper_11_images": PAPER_BANK_IMAGES, "full_7500_images": BMAD_BRAIN["train"]}
    queries = 8 * PATCHES  # eight test images per call
    if smoke:
        sizes, queries = {"paper_11_images": 1, "full_7500_images": 2}, PATCHES
    out = {}
    for name, images in sizes.items():
        n = images * PATCHES
        free = torch.cuda.mem_get_info()[0] if device.startswith("cuda") else 8 * GIB
        need = n * DIM * 2
        if faiss_has_gpu() and need < 0.7 * free and device.startswith("cuda"):
            seconds, how = _faiss_fp16_seconds(n, queries), "faiss GpuIndexFlatL2 (useFloat16), whole bank on the GPU"
        else:
            seconds, how = _torch_fp16_search_seconds(n, device, queries)
            why = "faiss-gpu absent" if not faiss_has_gpu() else "the bank does not fit 70 % of free memory for faiss"
            how = f"torch float16 GEMM + top-k ({why}); {how}"
        out[name] = {
            "bank_rows": n,
            "bank_gib_float16": need / GIB,
            "free_gib": free / GIB,
            "fits": need < free,
            "how": how,
            "seconds_per_test_image": seconds / (queries / PATCHES),
        }
        log(f"search {name}: {out[name]['seconds_per_test_image'] * 1000:.1f} ms per test image ({how})")
    return out


def _faiss_fp16_seconds(n: int, queries: int) -> float:
    """faiss-gpu float16 flat index of n random rows (filled in parts from the GPU's generator)."""
    import faiss
    import torch

    resources = faiss.StandardGpuResources()
    config = faiss.GpuIndexFlatConfig()
    config.useFloat16 = True
    index = faiss.GpuIndexFlatL2(resources, DIM, config)
    step = 256 * PATCHES
    for start in range(0, n, step):
        rows = torch.randn(min(step, n - start), DIM, device="cuda").cpu().numpy()
        index.add(rows)
    q = np.random.default_rng(3).standard_normal((queries, DIM), dtype=np.float32)
    return timed(lambda: index.search(q, 16), "cuda", repeats=3)


def decode_section(variant: str, device: str) -> dict:
    import torch

    from bench_mias_sam.encoder import SamEncoder
    from bench_mias_sam.pipeline import MiasSamPipeline

    sam = build_sam(variant, device)
    pipeline = MiasSamPipeline(sam, device=device, k=1, sigma=4.0, encoder=SamEncoder(sam, device=device, batch=1))
    embedding = torch.randn(1, *pipeline.embedding_shape, device=device)
    norm = np.random.default_rng(4).random((256, 256))
    seconds = timed(lambda: pipeline.segment(embedding, norm, 5.0, 256, "gpu_check"), device, repeats=5)
    return {"decode_s_per_image": seconds}


def projection(report: dict) -> dict:
    """Hours of a full BMAD brain run from the measured rates (encoder: best uncompiled bf16 rate)."""
    enc = report.get("encoder", {})
    rates = [v for k, v in enc.items() if k.startswith("bfloat16_batch") and isinstance(v, float)]
    rates32 = [v for k, v in enc.items() if k.startswith("float32_batch") and isinstance(v, float)]
    search = report.get("search_speed", {})
    decode = report.get("decode", {}).get("decode_s_per_image")
    if not (rates and rates32 and search and decode):
        return {"skipped": "a measurement it needs is missing"}
    scored = BMAD_BRAIN["valid_normal"] + BMAD_BRAIN["test"]
    out = {}
    eras = (
        ("paper-2025", "paper_11_images", PAPER_BANK_IMAGES),
        ("authors-2026", "full_7500_images", BMAD_BRAIN["train"]),
    )
    for era, bank, trained in eras:
        for dtype, rate in (("float32", max(rates32)), ("bfloat16", max(rates))):
            encode = (trained + scored) / rate
            searching = scored * search[bank]["seconds_per_test_image"]
            decoding = BMAD_BRAIN["test"] * decode
            out[f"{era}_{dtype}"] = {
                "encode_h": encode / 3600,
                "search_h": searching / 3600,
                "decode_h": decoding / 3600,
                "total_h": (encode + searching + decoding) / 3600,
            }
    return out


def chosen_batch(report: dict) -> int:
    return int(report.get("encoder", {}).get("bfloat16_chosen_batch", 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=240, help="seconds for the measurements (default 240)")
    parser.add_argument("--out", help="also write the JSON report here")
    parser.add_argument("--cpu-smoke", action="store_true", help="run every step on the CPU, micro SAM, small banks")
    parser.add_argument("--no-compile", action="store_true", help="leave out the torch.compile step")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available() and not args.cpu_smoke:
        print("gpu_check: no CUDA device available (torch.cuda.is_available() is False); nothing to check")
        return 0
    smoke = args.cpu_smoke
    device, variant = ("cpu", "micro") if smoke else ("cuda", "vit_b")
    clock = Clock(args.budget)
    report: dict = {"device": "cpu (smoke)" if smoke else torch.cuda.get_device_name(0), "torch": torch.__version__}
    steps = [
        ("encoder", lambda: encoder_section(variant, device, smoke)),
        ("bf16_vs_fp32", lambda: agreement_section(variant, device)),
        ("faiss_gpu_vs_cpu", lambda: faiss_section(smoke)),
        ("search_speed", lambda: search_speed_section(device, smoke)),
        ("decode", lambda: decode_section(variant, device)),
        ("compiled", lambda: compile_section(variant, device, clock, smoke, chosen_batch(report))),
    ]
    if args.no_compile:
        steps.pop()
        report["compiled"] = {"skipped": "--no-compile"}
    for name, step in steps:
        if clock.left() < 10:
            report[name] = {"skipped": "out of time budget"}
            continue
        log(f"{name} ({clock.left():.0f} s left)")
        try:
            report[name] = step()
        except Exception as exc:  # report and go on: one failing step must not lose the others
            report[name] = {"failed": f"{type(exc).__name__}: {str(exc)[:500]}"}
            log(f"{name} failed: {type(exc).__name__}: {exc}")
    report["bmad_brain_projection"] = projection(report)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
