"""Fixed-window rate limits, counted in the database.

Cloud Run runs several instances of several workers, so a counter in one
process would multiply the limit by their number. One atomic upsert per
attempt counts it where every process sees it, and yields the new count in
the same statement (MySQL: LAST_INSERT_ID(expr); SQLite: RETURNING).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee as pw

from service import db
from service.errors import RATE_LIMITED, ApiError
from service.models import RateLimit, utcnow

#: Each process deletes expired windows on its first attempt, then at most this often.
PURGE_EVERY = 300.0

clock = time.time  # replaced in tests
_next_purge = 0.0
_purge_lock = threading.Lock()


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window: int  # seconds


def _count(bucket: str, expires_at: datetime) -> int:
    if db.is_mysql():
        query = RateLimit.insert(
            bucket=bucket, hits=pw.fn.LAST_INSERT_ID(1), expires_at=expires_at
        ).on_conflict(update={RateLimit.hits: pw.fn.LAST_INSERT_ID(RateLimit.hits + 1)})
        return int(db.database.execute(query).lastrowid)
    query = (
        RateLimit.insert(bucket=bucket, hits=1, expires_at=expires_at)
        .on_conflict(
            conflict_target=[RateLimit.bucket], update={RateLimit.hits: RateLimit.hits + 1}
        )
        .returning(RateLimit.hits)
    )
    return int(next(iter(query.execute())).hits)


def _purge_due(now: float) -> bool:
    """True for one attempt per PURGE_EVERY in this process.

    By time, not by chance: the housekeeping costs a statement a few times an
    hour whatever the traffic, instead of one attempt in N (ten deletes a
    second at a thousand logins a second, and expired rows kept for hours when
    there are few).
    """
    global _next_purge
    with _purge_lock:
        if now < _next_purge:
            return False
        _next_purge = now + PURGE_EVERY
        return True


def hit(limit: Limit, key: str) -> None:
    """Count one attempt for `key`; past the limit, 429 rate_limited with Retry-After."""
    now = clock()
    window = int(now // limit.window)
    window_end = (window + 1) * limit.window
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]  # any key, bounded, not stored readable
    bucket = f"{limit.name}:{window}:{digest}"
    expires_at = datetime.fromtimestamp(window_end, UTC).replace(tzinfo=None)
    hits = _count(bucket, expires_at)
    if _purge_due(now):
        RateLimit.delete().where(RateLimit.expires_at < utcnow()).execute()
    if hits > limit.max_hits:
        retry_after = max(1, math.ceil(window_end - now))
        raise ApiError(RATE_LIMITED, headers={"Retry-After": str(retry_after)})
