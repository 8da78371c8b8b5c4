"""EKS errors, serialized by moto from the EKS service model (HTTP status and ``x-amzn-ErrorType`` included)."""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class InvalidParameterException(ServiceException):
    """A parameter is invalid (HTTP 400)."""

    code = "InvalidParameterException"


class InvalidRequestException(ServiceException):
    """The request is invalid in the resource's current state (HTTP 400)."""

    code = "InvalidRequestException"


class ResourceInUseException(ServiceException):
    """The resource exists already or is busy (HTTP 409)."""

    code = "ResourceInUseException"


class ResourceNotFoundException(ServiceException):
    """No such resource (HTTP 404)."""

    code = "ResourceNotFoundException"
