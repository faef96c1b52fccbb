"""Text from outside (a URL, a visitor's file, an error about either) shown on the page."""

from __future__ import annotations

import re

MARKDOWN_CHARACTERS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=/])")


def plain(text: str) -> str:
    """Text shown as it is: every markdown character escaped (a URL's text may say
    anything; it must never become a link, an image or a styled line)."""
    return MARKDOWN_CHARACTERS.sub(r"\\\1", text)
