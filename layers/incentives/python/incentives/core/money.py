"""Money is integer fen; rates are basis points (1 bp = 0.01 %).

Every model that takes money in (webhook events, API requests, settings) uses :data:`Fen`,
and every rate :data:`BasisPoints`: strict integers (``"100"``, ``100.0`` and ``true`` are
refused, not coerced) within bounds, so a value that is accepted can always be stored and
added up. A field may narrow the bound (``Annotated[Fen, Field(ge=1)]``), never widen it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

MAX_FEN = 10**12
"""The largest amount any model accepts: 10 000 000 000 yuan (docs/decisions.md, "Money is a
strict integer of at most 10^12 fen").

Far above any real order, payout or setting, far below DynamoDB's 38 digits, and 9 000 of
them still add up exactly as a JSON / JavaScript number (2^53)."""

Fen = Annotated[
    int,
    Strict(),
    Field(ge=0, le=MAX_FEN, description="Amount in fen (1/100 yuan): an integer, at most 10^12"),
]
BasisPoints = Annotated[
    int, Strict(), Field(ge=0, le=10_000, description="Rate in basis points (1 bp = 0.01 %), an integer")
]

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


PPM_PER_UNIT = 1_000_000
Ppm = Annotated[
    int,
    Strict(),
    Field(ge=0, le=PPM_PER_UNIT, description="Rate in parts per million (1 % = 10000 ppm), an integer"),
]
"""A rate finer than basis points: the platform's fee rates (seed 004: 1 %, 0.4 %, 0.6 % …)."""


def apply_ppm(amount_fen: int, rate_ppm: int) -> int:
    """Return ``amount_fen × rate_ppm / 10^6`` rounded half up to the fen (SPEC §4.1)."""
    sign = -1 if amount_fen < 0 else 1
    numerator = abs(amount_fen) * rate_ppm
    return sign * ((2 * numerator + PPM_PER_UNIT) // (2 * PPM_PER_UNIT))
