"""A reproduction as tables: the paper's figures beside the measured ones, in files (the CLI draws the terminal's).

Files (``OUT/<spec name>/``): ``reproduction.json`` (schema
``mias-bench/reproduction`` v1), ``reproduction.md`` and ``SHA256SUMS``,
written into a temporary folder and swapped in whole.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from bench.formatting import json_safe, p_value, points
from bench.publish.digests import write_digests
from bench.publish.folders import swap_in
from bench.reproduce.run import Reproduction

SMOKE = (
    "SMOKE RUN: synthetic data and/or untrained (random-init) weights. These figures check that the pipeline "
    "runs end to end; they are not a reproduction of the paper. Run on BMAD with the real weights for that."
)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _diff(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def _against(entry: dict) -> str:
    pair = entry["against_reference"]
    if not pair:
        return "–"
    return (
        f"{points(pair['mean_diff'])} [{points(pair['ci_low'])}, {points(pair['ci_high'])}] "
        f"p {p_value(pair['p_value'])}: {pair['verdict']}"
    )


def table_lines(reproduction: Reproduction) -> dict[str, list[list[str]]]:
    """Per modality, one line per method: label, protocol, marks, then published / measured / difference per metric."""
    out: dict[str, list[list[str]]] = {}
    for entry in reproduction.as_dict()["methods"]:
        line = [entry["label"] + (" *" if entry["note"] else ""), entry["protocol"], ", ".join(entry["marks"])]
        for metric in reproduction.spec.metrics:
            cell = entry["cells"][metric]
            line += [_num(cell["published"]), _num(cell["measured"]), _diff(cell["difference"])]
        line.append(entry["error"] or _against(entry))
        out.setdefault(entry["modality"], []).append(line)
    return out


def table_header(reproduction: Reproduction) -> list[str]:
    header = ["method", "protocol", "marks"]
    for title in reproduction.spec.metrics.values():
        header += [f"{title} paper", f"{title} measured", "Δ"]
    return header + [f"DICE vs {reproduction.spec.reference} (points, 95% CI)"]


def markdown(reproduction: Reproduction) -> str:
    spec = reproduction.spec
    out = [f"# Reproduction: {spec.title}", "", f"Source of the published figures: {spec.source}.", ""]
    if reproduction.smoke:
        out += [f"**{SMOKE}**", ""]
    out += [
        f"Spec `{spec.name}`; seeds {', '.join(map(str, spec.seeds))}; metrics in percent, measured = mean over "
        f"the seeds; Δ = measured − paper. The last column compares each method's per-case DICE with "
        f"{spec.reference}'s on the same test cases (paired bootstrap CI, Wilcoxon signed-rank).",
        "",
    ]
    header = table_header(reproduction)
    for modality, lines in table_lines(reproduction).items():
        out += [f"## {modality} ({spec.datasets[modality]})", ""]
        out.append("| " + " | ".join(header) + " |")
        out.append("| " + " | ".join("---" if i < 3 else "---:" for i in range(len(header))) + " |")
        out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines]
        out.append("")
    out += [f"- {m.label}: {m.note}" for m in spec.methods if m.note]
    out += [f"- {n}" for n in reproduction.notes]
    return "\n".join(out).rstrip() + "\n"


def write_reproduction(reproduction: Reproduction, out: str | Path) -> Path:
    """Write ``out/<spec name>/`` atomically; return the folder."""
    folder = Path(out) / reproduction.spec.name
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.writing-", dir=folder.parent))
    try:
        document = json.dumps(json_safe(reproduction.as_dict()), indent=2, sort_keys=True, allow_nan=False) + "\n"
        (staging / "reproduction.json").write_text(document, encoding="utf-8")
        (staging / "reproduction.md").write_text(markdown(reproduction), encoding="utf-8")
        write_digests(staging)
        swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
