"""Turns the raw figures into rows with targets, and writes latest.json / latest.md.

Files are written to a .tmp name first and renamed, so an interrupted run never
leaves a half-written result behind (``*.tmp`` is git-ignored).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    figure: str
    value: float | None
    unit: str
    target: str = ""
    passed: bool | None = None  # None: no target (information only) or not measured

    def shown(self) -> str:
        if self.value is None:
            return "not measured"
        digits = 2 if abs(self.value) < 10 else 0
        return f"{self.value:,.{digits}f} {self.unit}".strip()

    def verdict(self) -> str:
        if self.passed is None:
            return "miss (not measured)" if self.target and self.value is None else "–"
        return "pass" if self.passed else "**miss**"


def at_least(figure, value, unit, bound, target_text=None) -> Row:
    ok = None if value is None else value >= bound
    return Row(figure, value, unit, target_text or f"≥ {bound:g}", ok)


def below(figure, value, unit, bound, target_text=None) -> Row:
    ok = None if value is None else value < bound
    return Row(figure, value, unit, target_text or f"< {bound:g}", ok)


def info(figure, value, unit) -> Row:
    return Row(figure, value, unit)


def dig(data: dict, *path, default=None):
    """data[path[0]][path[1]]... or default when any step is missing."""
    for key in path:
        if not isinstance(data, dict) or key not in data or data[key] is None:
            return default
        data = data[key]
    return data


def markdown(rows: list[Row], meta: dict) -> str:
    lines = [f"Benchmarks of {meta['date']} on {meta['cpu_count']} CPU(s) ({meta['cpu_model']}),"
             f" load average at start {meta['load_avg_start']}, total {meta['wall_s']:.0f} s.",
             "", "| Figure | Value | Target | Result |", "|---|---|---|---|"]
    lines += [f"| {r.figure} | {r.shown()} | {r.target or '–'} | {r.verdict()} |" for r in rows]
    if meta.get("errors"):
        lines += ["", "Errors:"] + [f"- {e}" for e in meta["errors"]]
    return "\n".join(lines) + "\n"


def write(rows: list[Row], figures: dict, meta: dict) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, meta)
    document = {**meta, "figures": figures, "rows": [asdict(r) for r in rows]}
    for name, text in (("latest.json", json.dumps(document, indent=2, default=str)),
                       ("latest.md", table)):
        tmp = RESULTS / f"{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, RESULTS / name)
    return table
