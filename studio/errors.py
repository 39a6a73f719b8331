"""Domain errors shared by the framework-free core and the Django layers.

Every error carries a machine-readable ``code``, a human sentence and optional
``details``. The API turns them into ``{"error": {"code", "message", "details"}}``
with ``status``; ``manage.py`` prints the message and exits non-zero; the GUI
shows the message. This module must not import Django.
"""

from __future__ import annotations

from typing import Any


class StudioError(Exception):
    """Base class: a failure the user can understand and act on."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details if details is not None else {}


class ValidationFailed(StudioError):
    status = 400
    code = "validation_error"


class NotFound(StudioError):
    status = 404
    code = "not_found"


class Forbidden(StudioError):
    """The user may see the resource but not do this to it (e.g. a viewer trying to train)."""

    status = 403
    code = "permission_denied"


class Conflict(StudioError):
    status = 409
    code = "conflict"


class Damaged(StudioError):
    """A workspace file exists but cannot be parsed or validated."""

    status = 409
    code = "damaged"


class BrokerUnavailable(StudioError):
    """The job queue (Redis) does not answer: nothing was recorded, try again shortly."""

    status = 503
    code = "broker_unavailable"
