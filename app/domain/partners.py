"""Partner names and campaign ids."""

from __future__ import annotations

import re

from app.domain.errors import validation_error
from app.domain.text import has_control_characters

PARTNER_MAX = 100
_CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def normalise_partner_name(raw: str, field: str = "name") -> str:
    """Surrounding whitespace is stripped; 1..100 characters, no control characters.
    Names are case-sensitive."""
    name = raw.strip()
    if not 1 <= len(name) <= PARTNER_MAX:
        raise validation_error(field, f"must be 1 to {PARTNER_MAX} characters after trimming")
    if has_control_characters(name):
        raise validation_error(field, "must not contain control characters")
    return name


def valid_campaign_id(value: str) -> bool:
    return bool(_CAMPAIGN_ID.match(value))
