"""Every response the integration suite receives is checked against openapi.yaml."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

from service.openapi import SPEC_PATH


class ContractViolation(AssertionError):
    pass


class Contract:
    def __init__(self) -> None:
        self.openapi = OpenAPI.from_file_path(str(SPEC_PATH))
        self.checked = 0
        self.skipped = 0
        self._lock = threading.Lock()

    def check(self, response: requests.Response) -> None:
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
