"""PatchCore cost on the embedded synthetic benchmark: fit time, predict time per image, memory bank.

Writes the synthetic set (``bench.datasets.synth``, the generator behind
``mias-bench data synth``) to a temporary folder, puts every case in the
``paper-256`` evaluation frame the runner uses, then for each backbone fits
on the normal training cases and predicts the test cases. Random-init
backbones (pretrained=false) and the hub offline: no network, no weights.

``fit_s`` covers building the backbone, embedding the training cases and
anomalib's k-center-greedy coreset selection (``coreset_s``, its share), not
importing anomalib (done once before timing). ``predict_ms_per_image`` is the
wall time of predicting every test case (after one warm-up batch) divided by
their number. In the frame every modality is 256 x 256, so the cost depends
on the case counts, not the modality; brain is the default.

    python benchmarks/bench_patchcore.py [--modality brain|liver|retina|all] [--device cpu|cuda]
        [--n-train 40] [--n-test 30] [--input-size 256] [--batch-size 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

from measure import time_fit_predict

# This file shares its name with the plugin package: keep its folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATASETS = {"brain": "bmad-brain", "liver": "bmad-liver", "retina": "bmad-resc"}


def _load_cases(root: str, modality: str):
    from bench.datasets.registry import open_dataset
    from bench.frame import get_frame

    dataset = open_dataset(DATASETS[modality], os.path.join(root, modality))
    frame = get_frame("paper-256")
    train = [frame.apply(r.load()) for r in dataset.cases("train") if r.label == 0]
    test = [frame.apply(r.load()) for r in dataset.cases("test")]
    return train, test


def _measure(cls, train, test, args) -> dict:
    from bench.contract import DetectorContext

    config = cls.Config(pretrained=False, input_size=args.input_size)
    detector = cls(config, DetectorContext(device=args.device, seed=0, batch_size=args.batch_size))
    fit_s, predict_s = time_fit_predict(detector, train, test, args.device, args.batch_size)
    notes = detector.run_info().notes
    return {
        "detector": cls.name,
        "train_cases": len(train),
        "test_cases": len(test),
        "fit_s": round(fit_s, 3),
        "coreset_s": notes["coreset_seconds"],
        "predict_ms_per_image": round(1000 * predict_s / len(test), 2),
        "patches_collected": notes["patches_collected"],
        "coreset_size": notes["coreset_size"],
        "embedding_dim": notes["embedding_dim"],
        "bank_mib": round(notes["bank_bytes"] / 2**20, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", default="brain", choices=[*DATASETS, "all"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-train", type=int, default=40)
    parser.add_argument("--n-test", type=int, default=30)
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    args = parser.parse_args()

    import torch

    from bench.datasets.synth import generate_synthetic
    from bench_patchcore import PatchcoreR18, PatchcoreWrn50
    from bench_patchcore.anomalib_model import import_patchcore_model

    import_patchcore_model()  # the one-off import cost stays out of the fit time
    modalities = list(DATASETS) if args.modality == "all" else [args.modality]
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu x{torch.get_num_threads()}"
    print(f"device: {device_name}; torch {torch.__version__}", file=sys.stderr)

    rows = []
    with tempfile.TemporaryDirectory(prefix="mias-bench-patchcore-") as root:
        print(f"writing the synthetic set ({', '.join(modalities)}) to {root}", file=sys.stderr)
        generate_synthetic(root, modalities, n_train=args.n_train, n_valid=0, n_test=args.n_test)
        for modality in modalities:
            train, test = _load_cases(root, modality)
            for cls in (PatchcoreWrn50, PatchcoreR18):
                print(f"{cls.name} on {modality}: fit {len(train)}, predict {len(test)}", file=sys.stderr)
                rows.append({"modality": modality, **_measure(cls, train, test, args)})

    if args.json:
        for row in rows:
            print(json.dumps({**row, "device": device_name, "input_size": args.input_size}))
        return
    header = [
        "modality",
        "detector",
        "fit_s",
        "coreset_s",
        "predict_ms_per_image",
        "coreset_size",
        "embedding_dim",
        "bank_mib",
    ]
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    print(f"# device {device_name}, input {args.input_size}, batch {args.batch_size}, pretrained=false")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths, strict=True)))


if __name__ == "__main__":
    main()
