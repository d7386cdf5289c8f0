"""Fit and predict cost of the paper's baselines on the synthetic brain set: seconds per image, peak RSS.

Writes the synthetic brain set (``bench.datasets.synth``, the generator
behind ``mias-bench data synth``) to a temporary folder and puts its cases in
the ``paper-256`` frame the runner uses. Each detector then runs in its own
child process, so the peak resident memory it reports is that detector's
alone (anomalib, torch and Lightning imported, model built, trained and run).

Settings: ``demo`` (default) uses each detector's ``offline_overrides()``,
the demo's settings; ``published`` uses the config defaults (the methods'
published backbones and training lengths), where ``--epochs`` / ``--max-steps``
cut training short for a CPU. Backbones are always random-init
(``pretrained=false``): no network, no weights.

Columns: ``fit_s`` is building and training the model (anomalib imported
before timing); ``fit_s_per_image`` is ``fit_s`` over the training images
fed to training steps (training cases x epochs, or fewer when a step limit
stops an epoch early); ``predict_s_per_image`` the wall time of predicting every test case
(after one warm-up batch) over their number; ``peak_rss_mib`` the child's
peak resident set size.

    python benchmarks/bench_baselines.py [--detectors rd4ad,cfa,cflow,supersimplenet,recontrast,anomalib]
        [--settings demo|published] [--epochs N] [--max-steps N] [--n-train 24] [--n-test 30]
        [--device cpu|cuda] [--batch-size 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from measure import peak_rss, time_fit_predict

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DETECTORS = ("rd4ad", "cfa", "cflow", "supersimplenet", "recontrast", "anomalib")
SHOWN = ("backbone", "input_size", "epochs", "max_steps", "train_batch_size")


def _settings(name: str, args: argparse.Namespace) -> dict:
    from bench.plugins import get_detector

    cls = get_detector(name)
    overrides = dict(cls.offline_overrides() or {}) if args.settings == "demo" else {}
    defaults = cls.Config()
    # Only detectors that declare a training length get it cut (the generic bridge's PaDiM makes one pass).
    if args.settings == "published" and (defaults.epochs is not None or defaults.max_steps is not None):
        if args.epochs is not None:
            overrides["epochs"] = args.epochs
        if args.max_steps is not None:
            overrides["max_steps"] = args.max_steps
    overrides["pretrained"] = False
    return overrides


def _child(args: argparse.Namespace) -> None:
    """Measure one detector (in this process) and print one JSON line."""
    from bench.contract import DetectorContext
    from bench.datasets.registry import open_dataset
    from bench.frame import get_frame
    from bench.plugins import get_detector, resolve_config
    from bench_anomalib.quiet import import_anomalib_models

    import_anomalib_models()  # the one-off import stays out of the fit time
    overrides = json.loads(args.overrides)
    cls = get_detector(args.child)
    config = resolve_config(cls, None, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])
    dataset = open_dataset("bmad-brain", args.root)
    frame = get_frame("paper-256")
    train = [frame.apply(r.load()) for r in dataset.cases("train") if r.label == 0]
    test = [frame.apply(r.load()) for r in dataset.cases("test")]
    detector = cls(config, DetectorContext(device=args.device, seed=0, batch_size=args.batch_size))

    fit_s, predict_s = time_fit_predict(detector, train, test, args.device, args.batch_size)

    notes = detector.run_info().notes
    dumped = config.model_dump(mode="json")
    images_seen = notes["train_images_seen"]
    backbone = dumped.get("backbone", dumped.get("model_args", {}).get("backbone"))
    print(
        json.dumps(
            {
                "detector": cls.name,
                **{k: dumped.get(k) for k in SHOWN},
                "backbone": backbone,
                "train_cases": len(train),
                "test_cases": len(test),
                "epochs_run": notes["epochs_run"],
                "steps_run": notes["steps_run"],
                "train_images_seen": images_seen,
                "fit_s": round(fit_s, 2),
                "fit_s_per_image": round(fit_s / max(images_seen, 1), 4),
                "predict_s_per_image": round(predict_s / len(test), 4),
                "peak_rss_mib": round(peak_rss() / 2**20, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--settings", default="demo", choices=["demo", "published"])
    parser.add_argument("--epochs", type=int, default=None, help="published settings: train this many epochs")
    parser.add_argument("--max-steps", type=int, default=None, help="published settings: stop after this many steps")
    parser.add_argument("--n-train", type=int, default=24)
    parser.add_argument("--n-test", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--overrides", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    import torch

    from bench.datasets.synth import generate_synthetic

    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu x{torch.get_num_threads()}"
    print(f"device: {device_name}; torch {torch.__version__}", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mias-bench-baselines-") as root:
        generate_synthetic(root, ["brain"], n_train=args.n_train, n_valid=0, n_test=args.n_test)
        for name in args.detectors.split(","):
            overrides = _settings(name, args)
            print(f"{name}: {json.dumps(overrides)}", file=sys.stderr)
            child = [sys.executable, os.path.abspath(__file__), "--child", name, "--root", os.path.join(root, "brain")]
            child += ["--overrides", json.dumps(overrides), "--device", args.device]
            child += ["--batch-size", str(args.batch_size)]
            done = subprocess.run(child, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{name} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    if args.json:
        for row in rows:
            print(json.dumps({**row, "device": device_name, "settings": args.settings}))
        return
    header = ["detector", *SHOWN, "epochs_run", "steps_run", "train_images_seen", "fit_s", "fit_s_per_image"]
    header.append("predict_s_per_image")
    header.append("peak_rss_mib")
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header] if rows else [len(h) for h in header]
    print(f"# device {device_name}; {args.settings} settings, pretrained=false; synthetic brain, 256 px frame")
    print(f"# {rows[0]['train_cases'] if rows else args.n_train} training cases, {args.n_test} test cases")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths, strict=True)))


if __name__ == "__main__":
    main()
