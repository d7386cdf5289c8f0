"""``mias-bench detectors list|info``."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from bench.cli.output import out, print_json
from bench.errors import ConfigError
from bench.plugins import discover_detectors, get_detector_record, select_detectors

app = typer.Typer(help="List installed detector plugins and their configs.", no_args_is_help=True)


def detector_listing(where: list[str] | None = None) -> list[dict]:
    """Every detector entry point with its status (broken ones carry their error).

    ``where`` (``["outputs_mask=false", ...]``, ANDed) keeps only usable
    detectors with those capabilities.
    """
    rows = []
    for record in select_detectors(where) if where else discover_detectors():
        cls = record.obj
        rows.append(
            {
                "name": record.name,
                "distribution": record.distribution,
                "version": record.version,
                "detector_version": getattr(cls, "version", None) if record.ok else None,
                "entry_point": record.target,
                "status": record.status,
                "error": record.error,
                "capabilities": cls.capabilities.as_dict() if record.ok else None,
                "description": getattr(cls, "description", "") if record.ok else "",
            }
        )
    return rows


def detector_info(name: str) -> dict:
    """Schema, defaults and presets of one detector's config."""
    record = get_detector_record(name)
    cls = record.obj
    return {
        "name": name,
        "distribution": record.distribution,
        "version": record.version,
        "detector_version": cls.version,
        "description": cls.description,
        "capabilities": cls.capabilities.as_dict(),
        "defaults": cls.Config().model_dump(mode="json"),
        "presets": cls.presets,
        "schema": cls.Config.model_json_schema(),
    }


@app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    where: list[str] = typer.Option(
        [],
        "--where",
        help="Only detectors with this capability, KEY=VALUE (repeatable, ANDed), e.g. outputs_mask=false.",
    ),
) -> None:
    """List detector plugins (a broken plugin is listed with its error)."""
    try:
        rows = detector_listing(list(where))
    except ConfigError as exc:  # a malformed or unknown condition is a usage error of this option
        raise typer.BadParameter(str(exc), param_hint="'--where'") from None
    if as_json:
        print_json(rows)
        return
    table = Table(title="detectors")
    for col in ("name", "distribution", "version", "output", "fit", "weights", "modalities", "status"):
        table.add_column(col)
    for r in rows:
        caps = r["capabilities"] or {}
        table.add_row(
            r["name"],
            r["distribution"] or "?",
            r["version"] or "?",
            ("mask" if caps.get("outputs_mask") else "map") if caps else "",
            ("yes" if caps.get("needs_fit") else "no") if caps else "",
            ("yes" if caps.get("needs_weights") else "no") if caps else "",
            ",".join(caps.get("modalities", [])) if caps else "",
            {"ok": "[green]ok[/]", "blocked": "[yellow]blocked[/]"}.get(r["status"], "[red]error[/] (below)"),
        )
    console = out()
    console.print(table)
    for r in rows:
        if r["status"] == "error":
            console.print(f"[red]{r['name']}[/] ({r['distribution']}): {r['error']}", highlight=False, soft_wrap=True)


@app.command("info")
def info_command(
    name: str = typer.Argument(..., help="Detector name, e.g. intensity-zscore."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a detector's config schema, defaults and presets."""
    info = detector_info(name)
    if as_json:
        print_json(info)
        return
    console = out()
    console.print(f"[bold]{info['name']}[/] {info['detector_version']} ({info['distribution']} {info['version']})")
    if info["description"]:
        console.print(info["description"])
    table = Table(title="config")
    for col in ("key", "type", "default", "description"):
        table.add_column(col)
    props = info["schema"].get("properties", {})
    for key, default in info["defaults"].items():
        prop = props.get(key, {})
        kind = prop.get("type") or " | ".join(str(p.get("type", p.get("const", "?"))) for p in prop.get("anyOf", []))
        if "enum" in prop:
            kind = " | ".join(map(str, prop["enum"]))
        table.add_row(key, str(kind), json.dumps(default), prop.get("description", ""))
    console.print(table)
    for preset, values in info["presets"].items():
        console.print(f"preset [bold]{preset}[/]: {json.dumps(values)}")
