"""Logging as one JSON object per line on stdout, which Cloud Run collects as is."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# WeChat's API takes credentials in query strings (code2Session's `secret`, every
# `access_token`), and HTTP libraries log URLs when verbose: such values are
# replaced wherever they appear in a line.
_CREDENTIAL_IN_URL = re.compile(r"(?i)\b(secret|js_code|access_token|code)=([^&\s\"']+)")

# Attributes every LogRecord has; anything else on a record was passed as `extra`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def mask(value: str) -> str:
    """Enough of an identifier to tell two apart in a log, not enough to use it."""
    if len(value) <= 8:
        return "***"
    return f"{value[:3]}***{value[-3:]}"


def redact(text: str) -> str:
    return _CREDENTIAL_IN_URL.sub(r"\1=[redacted]", text)


def mask_phone(number: str) -> str:
    """138****1234: enough to recognise one's own number, not to call it."""
    if len(number) < 7:
        return "***"
    return f"{number[:-8]}****{number[-4:]}"


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: its time, level, logger and message, and every `extra`.

    It formats every request's access line, so it does no work twice: one
    encoder for the process, the time's seconds formatted once per second, and
    the credential scan only over lines with an `=` in them, which every
    credential pattern needs.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # replaced whole: threads never see half

    def _time(self, created: float) -> str:
        second = int(created)
        cached, text = self._second
        if cached != second:
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, text)
        return f"{text}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = _ENCODER.encode(entry)
        return redact(line) if "=" in line else line


def configure(level: int = logging.INFO) -> None:
    """Send every logger's records to stdout as JSON, once per process.

    The handler goes on the root logger so that library records (peewee,
    gunicorn's error log when it propagates) share the format; the service's
    own loggers log at `level`.
    """
    # What a LogRecord would otherwise look up for every line (the thread, the
    # process id, multiprocessing's and asyncio's names): no line here shows them, and
    # the access line is written on every request. The logging HOWTO's "Optimization"
    # section names these switches.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if hasattr(logging, "logAsyncioTasks"):  # Python 3.12+
        logging.logAsyncioTasks = False
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    logging.getLogger("service").setLevel(level)
    # Two libraries log personal data and credentials when verbose, so they never
    # are: urllib3's debug lines carry full request URLs (code2Session's app
    # secret included), peewee's carry every query's parameters (openids).
    for chatty in ("urllib3", "peewee"):
        logging.getLogger(chatty).setLevel(max(level, logging.INFO))
