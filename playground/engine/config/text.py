"""Config values as text, for URL query params and the command line.

The field-agnostic half of the URL form: how one value is written and read
back. ``config.py`` decides which type each field has and which values it allows.
"""

from __future__ import annotations

import math

MAX_TEXT = 1000  # longer text is refused before parsing: a URL is no place for essays


def format_value(value: object) -> str:
    """The text that ``parse_value`` reads back to exactly this value."""
    if isinstance(value, tuple):
        return ",".join(format_value(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(value) if isinstance(value, float) else str(value)


def param_text(value: object) -> str | None:
    """A JSON or TOML value as the URL text ``Config.from_params`` reads; None if it
    cannot be one. Booleans and flat lists are accepted: people write them by hand."""
    scalar = str | bool | int | float
    if isinstance(value, list) and all(isinstance(v, scalar) for v in value):
        return format_value(tuple(value))
    return format_value(value) if isinstance(value, scalar) else None


def parse_scalar(kind: type, text: str) -> object:
    """One bool, int, finite float or str; ValueError if the text is not one."""
    text = text.strip()
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    if kind is int:
        return int(text)
    if kind is float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    return text


def parse_value(kind: type, is_tuple: bool, text: str, max_text: int = MAX_TEXT) -> object:
    """A scalar, or a comma-separated tuple of them (empty items are skipped)."""
    if len(text) > max_text:
        raise ValueError("too long")
    if not is_tuple:
        return parse_scalar(kind, text)
    items = [p for p in text.split(",") if p.strip()]
    if text.strip() and not items:
        raise ValueError("only commas")  # ",,,," is a typo, not an empty list
    return tuple(parse_scalar(kind, p) for p in items)


def shorten(text: str, limit: int = 40) -> str:
    """Enough of a visitor's text to recognise it in a message."""
    return text if len(text) <= limit else text[:limit] + "…"


def plain_number(value: float) -> str:
    """2147483647, not 2.14748e+09; 0.001 stays 0.001."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
