"""gunicorn's logger, without the access log it would build and throw away.

gunicorn.conf.py turns gunicorn's access log off (the app writes one JSON line
per request, with its request id: service/access_log.py), but because it also
gives gunicorn a logging configuration, gunicorn still formats every request's
access atoms and hands them to a logger nobody listens to: about a tenth of a
worker's CPU per request, measured with py-spy under wrk (bench/RESULTS.md).
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger


class AppLogsRequests(Logger):  # type: ignore[misc]
    """Everything gunicorn logs, except the per-request line the app writes itself."""

    def access(self, *args: Any, **kwargs: Any) -> None:
        return None
