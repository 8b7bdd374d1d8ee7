"""Every error a client can see, in one hierarchy.

    ServiceError                 (status, code, message, details)
    ├── Unauthorized             401 unauthorized
    ├── Forbidden                403 forbidden
    ├── NotFound                 404 <thing>_not_found
    ├── Conflict                 409 state conflicts
    ├── Unprocessable            422 validation_error and the specific 422 codes
    ├── BadRequest               400 malformed_body
    ├── PayloadTooLarge          413
    ├── UnsupportedMediaType     415 unsupported_media_type
    └── StoreUnavailable         503 store_unavailable

The API layer renders any of them as {"error": {"code", "message", "details"}}.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details


class BadRequest(ServiceError):
    status = 400
    code = "malformed_body"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(ServiceError):
    status = 422
    code = "validation_error"


class StoreUnavailable(ServiceError):
    status = 503
    code = "store_unavailable"


def validation_error(field: str, message: str) -> Unprocessable:
    """A 422 naming one field, in the same shape pydantic errors are rendered."""
    return Unprocessable(f"{field}: {message}", fields=[{"field": field, "message": message}])
