"""Character rules shared by every free-text field."""

from __future__ import annotations

import unicodedata

# Unicode categories that never belong in a name, tag, id or code: control, format,
# surrogate, private use, unassigned, and line/paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def has_control_characters(value: str) -> bool:
    if value.isprintable():  # no character of those categories (the common case, in C)
        return False
    return any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value)


def has_whitespace(value: str) -> bool:
    return any(ch.isspace() for ch in value)


def slug(value: str, max_length: int, fallback: str) -> str:
    """Lowercase ASCII letters, digits and single dashes; never empty."""
    ascii_only = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    out: list[str] = []
    for ch in ascii_only.lower():
        if ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    text = "".join(out)[:max_length].strip("-")
    return text or fallback
