"""Kubernetes ``Status`` errors, shaped like the ones kube-apiserver returns."""
from __future__ import annotations

from typing import Any, Optional

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def reason_for(code: int) -> str:
    """The Status reason kube-apiserver uses for an HTTP code (unknown 5xx count as InternalError)."""
    if code in REASONS:
        return REASONS[code]
    return "InternalError" if code >= 500 else "BadRequest"


class ApiError(Exception):
    """An error that is sent to the client as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: Optional[dict] = None, headers: Optional[dict] = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def _details(resource, name: str, kind: Optional[str] = None) -> dict:
    details = {"name": name, "kind": kind or resource.plural}
    if resource.group:
        details["group"] = resource.group
    return details


def not_found(resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource.qualified_name} "{name}" not found', _details(resource, name))


def already_exists(resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{resource.qualified_name} "{name}" already exists', _details(resource, name))


def conflict(resource, name: str, why: str = "the object has been modified; please apply your changes to the latest version and try again") -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource.qualified_name} "{name}": {why}', _details(resource, name))


def invalid(resource, name: str, causes: list[dict]) -> ApiError:
    """422 Invalid; each cause is {"field", "message", "reason"} as in a real FieldError list."""
    summary = ", ".join(f'{c["field"]}: {c["message"]}' for c in causes)
    message = f'{resource.kind} "{name}" is invalid: {summary}' if len(causes) == 1 else f'{resource.kind} "{name}" is invalid: [{summary}]'
    details = _details(resource, name, kind=resource.kind)
    details["causes"] = causes
    return ApiError(422, "Invalid", message, details)


def forbidden(resource, name: str, why: str) -> ApiError:
    return ApiError(403, "Forbidden", f'{resource.qualified_name} "{name}" is forbidden: {why}', _details(resource, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unknown_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def unauthorized(message: str = "Unauthorized") -> ApiError:
    return ApiError(401, "Unauthorized", message)
