"""``SHA256SUMS``: the digest of every file of a publication, written last.

The format is the one ``sha256sum`` writes and checks (``<hex>  <path>``, one
file per line, paths relative to the folder, sorted), so a reader can run
``sha256sum -c SHA256SUMS`` without mias-bench. Because it is written after
every other file, a publish that stopped halfway has none (or an old one that
no longer matches), and ``verify`` says so.
"""

from __future__ import annotations

from pathlib import Path

from bench.hashing import sha256_file

DIGESTS = "SHA256SUMS"


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != DIGESTS)


def write_digests(folder: Path) -> str:
    """Write ``folder/SHA256SUMS`` over every other file in it; return its text."""
    text = "".join(f"{sha256_file(folder / name)}  {name}\n" for name in _files(folder))
    (folder / DIGESTS).write_text(text, encoding="utf-8", newline="\n")
    return text


def check_digests(folder: Path) -> list[tuple[str, str]]:
    """``(file, problem)`` for every file that is missing, changed, unlisted or unreadable; empty when all match."""
    listing = folder / DIGESTS
    if not listing.is_file():
        return [(DIGESTS, "missing: the publish did not finish, or the file was removed")]
    problems: list[tuple[str, str]] = []
    listed: dict[str, str] = {}
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
        hexdigest, sep, name = line.partition("  ")
        if not sep or len(hexdigest) != 64 or not name:
            problems.append((DIGESTS, f"line {number} is not '<sha256>  <path>': {line[:80]!r}"))
            continue
        if name in listed:
            problems.append((DIGESTS, f"line {number} lists {name} a second time"))
        listed[name] = hexdigest
    for name, expected in listed.items():
        path = folder / name
        if ".." in Path(name).parts or not path.is_file():
            problems.append((name, "listed in SHA256SUMS but missing"))
        elif sha256_file(path) != expected:
            problems.append((name, "changed since publish: its SHA-256 differs from SHA256SUMS"))
    for name in _files(folder):
        if name not in listed:
            problems.append((name, "not listed in SHA256SUMS: added after publish"))
    return problems
