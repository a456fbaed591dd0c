"""Text from outside the app (tokens, the access model) shown literally in Streamlit markdown."""

from __future__ import annotations


def plain(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_{}[]<>()#|~$" else c for c in text)
