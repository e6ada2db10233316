"""Every response the integration suite receives is checked against openapi.yaml."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any
from unittest import mock

import requests

from service.openapi import SPEC_PATH

if TYPE_CHECKING:
    from openapi_core import OpenAPI


class ContractViolation(AssertionError):
    pass


@cache
def _openapi() -> OpenAPI:
    """openapi.yaml, read and validated once per process, when a checker is first made.

    openapi-core is imported here, not at the top: importing it takes about half a
    second, which every process that merely collects this module would pay. Validating
    the document is most of the cost of an OpenAPI object; a checker's counts are its own.
    """
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(str(SPEC_PATH))


class Contract:
    def __init__(self) -> None:
        self.openapi = _openapi()
        self.checked = 0
        self.skipped = 0
        self._lock = threading.Lock()

    def check(self, response: requests.Response) -> None:
        from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
        from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

        request = RequestsOpenAPIRequest(response.request)
        try:
            self.openapi.validate_response(request, RequestsOpenAPIResponse(response))
        except (PathNotFound, OperationNotFound):
            # A path or method the API does not have: the 404/405 tests. Their
            # envelope is checked by those tests themselves.
            with self._lock:
                self.skipped += 1
            return
        except Exception as error:
            raise ContractViolation(
                f"{response.request.method} {response.request.url} -> {response.status_code} "
                f"does not match openapi.yaml: {error}\n{response.text[:500]}"
            ) from error
        with self._lock:
            self.checked += 1

    @contextmanager
    def watching(self, is_service: Callable[[str], bool]) -> Iterator[Contract]:
        """Check every response `requests` receives from a URL `is_service` accepts."""
        original = requests.Session.send

        def send(session: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
            response: requests.Response = original(session, request, **kwargs)
            if is_service(str(request.url)) and not kwargs.get("stream"):
                self.check(response)
            return response

        with mock.patch.object(requests.Session, "send", send):
            yield self
