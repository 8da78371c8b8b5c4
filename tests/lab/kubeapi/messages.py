"""The server's view of an HTTP exchange, independent of the HTTP plumbing."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Union

import yaml

from .errors import bad_request


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    @property
    def content_type(self) -> str:
        return self.header("Content-Type").split(";")[0].strip().lower()

    def json(self, default: Any = None) -> Any:
        """The decoded body (JSON, or YAML when sent as such); ``default`` when there is none."""
        if not self.body.strip():
            return default
        try:
            if self.content_type in ("application/yaml", "application/apply-patch+yaml"):
                return yaml.safe_load(self.body)
            return json.loads(self.body)
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"the body of the request could not be decoded: {error}") from error


@dataclass
class Response:
    status: int
    body: Any  # JSON-serializable, or str for text/plain
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        """The body as sent, and its Content-Type."""
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body, separators=(",", ":")).encode(), "application/json"


@dataclass
class StreamResponse:
    """A watch: newline-delimited JSON events sent with chunked transfer encoding."""

    events: Iterator[dict]
    headers: dict[str, str] = field(default_factory=dict)


Reply = Union[Response, StreamResponse]
