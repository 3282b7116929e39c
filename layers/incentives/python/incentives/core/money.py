"""Money is integer fen; rates are basis points (1 bp = 0.01 %)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Fen = Annotated[int, Field(ge=0, description="Amount in fen (1/100 yuan), integer")]
BasisPoints = Annotated[int, Field(ge=0, le=10_000, description="Rate in basis points (1 bp = 0.01 %)")]

BP_PER_UNIT = 10_000


def apply_rate(amount_fen: int, rate_bp: int) -> int:
    """Return ``amount_fen × rate_bp / 10000`` rounded half up to the fen (SPEC §4.1).

    Integer arithmetic only, so the result never depends on float representation.
    Negative amounts round half away from zero (a clawback mirrors its credit exactly).
    """
    sign = -1 if amount_fen < 0 else 1
    numerator = abs(amount_fen) * rate_bp
    return sign * ((2 * numerator + BP_PER_UNIT) // (2 * BP_PER_UNIT))


def pro_rata(amount_fen: int, part_fen: int, whole_fen: int) -> int:
    """Return ``amount_fen × part / whole`` rounded half up, for proportional reversals."""
    if whole_fen <= 0:
        return 0
    sign = -1 if amount_fen < 0 else 1
    numerator = abs(amount_fen) * part_fen
    return sign * ((2 * numerator + whole_fen) // (2 * whole_fen))
