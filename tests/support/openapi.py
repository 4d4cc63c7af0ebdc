"""Check httpx requests and responses against the official Communal OpenAPI document.

Shared by the client's and the sandbox's contract tests:

    from openapi_contract import validate_httpx_request, validate_httpx_response

    validate_httpx_request(request, base_url="http://127.0.0.1:8000/api")
    validate_httpx_response(request, response, base_url="http://127.0.0.1:8000/api")

Both raise an openapi-core validation error (with the reason) when the message breaks
the contract, and ``pytest.skip`` when the spec file is absent. The spec path comes from
``COMMUNAL_OPENAPI_SPEC``, else ``<repo>/../shared/communal-api/openapi-2026-03-25.json``.

The spec's only server is ``https://api.getcommunal.com/api``. A request to any other
base URL (the sandbox on a loopback port, a test host) is presented to openapi-core as
if it had been sent to that server: ``base_url`` is swapped for the spec's server URL,
the rest of the path and the query are kept.

openapi-core 0.23.1 crashes on a parameter whose schema uses OAS 3.1's list form of
``type`` (``["integer", "null"]``), python-openapi/openapi-core#1180. The document is
loaded as a dict and such parameter schemas are narrowed to their non-null type in
memory (a query string cannot carry a JSON null anyway); the file is not touched.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_ENV = "COMMUNAL_OPENAPI_SPEC"
SPEC_NAME = "openapi-2026-03-25.json"
DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "communal-api" / SPEC_NAME
SPEC_SERVER_URL = "https://api.getcommunal.com/api"


def spec_path() -> Path:
    """Where the OpenAPI document is looked for: ``$COMMUNAL_OPENAPI_SPEC`` or the default."""
    configured = os.environ.get(SPEC_ENV)
    return Path(configured) if configured else DEFAULT_SPEC_PATH


def load_openapi() -> OpenAPI:
    """The parsed spec (loaded once per process), or ``pytest.skip`` saying where we looked."""
    path = spec_path()
    if not path.is_file():
        pytest.skip(f"OpenAPI spec not found at {path}; set {SPEC_ENV} to its path.")
    return _load(str(path))


@functools.cache
def _load(path: str) -> OpenAPI:
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    return OpenAPI.from_dict(narrow_parameter_types(document))


def narrow_parameter_types(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` where each parameter's ``type: [T, "null"]`` becomes ``T``."""
    narrowed = copy.deepcopy(document)
    parameters: list[Any] = list(narrowed.get("components", {}).get("parameters", {}).values())
    for path_item in narrowed.get("paths", {}).values():
        parameters.extend(path_item.get("parameters", []))
        for operation in path_item.values():
            if isinstance(operation, dict):
                parameters.extend(operation.get("parameters", []))
    for parameter in parameters:
        schema = parameter.get("schema") if isinstance(parameter, dict) else None
        if isinstance(schema, dict) and isinstance(schema.get("type"), list):
            types = [t for t in schema["type"] if t != "null"]
            schema["type"] = types[0] if len(types) == 1 else "string"
    return narrowed


class HttpxOpenAPIRequest:
    """An ``httpx.Request`` seen through openapi-core's ``Request`` protocol."""

    def __init__(self, request: httpx.Request, *, base_url: str | None = None) -> None:
        self.request = request
        url = str(request.url)
        if base_url is not None:
            prefix = base_url.rstrip("/")
            if not url.startswith(prefix):
                raise ValueError(f"{url} is not under the base URL {prefix}")
            url = SPEC_SERVER_URL + url[len(prefix) :]
        self._url = urlsplit(url)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(self._url.query, keep_blank_values=True)),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self._url.scheme}://{self._url.netloc}"

    @property
    def path(self) -> str:
        return self._url.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        content = self.request.read()
        return content or None

    @property
    def content_type(self) -> str:
        return str(self.request.headers.get("Content-Type", "")).lower()


class HttpxOpenAPIResponse:
    """An ``httpx.Response`` seen through openapi-core's ``Response`` protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def data(self) -> bytes:
        return self.response.read()

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return str(self.response.headers.get("Content-Type", "")).lower()

    @property
    def headers(self) -> Headers:
        return Headers(list(self.response.headers.items()))


def validate_httpx_request(request: httpx.Request, *, base_url: str | None = None) -> None:
    """Raise openapi-core's validation error if ``request`` breaks the spec."""
    load_openapi().validate_request(HttpxOpenAPIRequest(request, base_url=base_url))


def validate_httpx_response(
    request: httpx.Request, response: httpx.Response, *, base_url: str | None = None
) -> None:
    """Raise openapi-core's validation error if ``response`` to ``request`` breaks the spec."""
    load_openapi().validate_response(
        HttpxOpenAPIRequest(request, base_url=base_url), HttpxOpenAPIResponse(response)
    )
