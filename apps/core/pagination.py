"""Pagination shared by the list APIs and pages: one page of results and its query numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from studio.errors import ValidationFailed

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """``results`` of page ``page`` (1-based) out of ``count`` items, ``page_size`` per page."""

    results: list[T]
    count: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.count / self.page_size))


def int_param(params: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter in ``[low, high]``; ``default`` when absent or empty."""
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise ValidationFailed(
            f"{key} must be a whole number", details={key: ["A whole number."]}
        ) from None
    if not low <= value <= high:
        raise ValidationFailed(
            f"{key} must be between {low} and {high}", details={key: [f"{low}-{high}."]}
        )
    return value
