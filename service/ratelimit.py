"""Fixed-window rate limits, counted in the database.

Cloud Run runs several instances of several workers, so a counter in one
process would multiply the limit by their number. One atomic upsert per
attempt counts it where every process sees it, and yields the new count in
the same statement (MySQL: LAST_INSERT_ID(expr); SQLite: RETURNING).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee as pw

from service import db
from service.errors import RATE_LIMITED, ApiError
from service.models import RateLimit, utcnow

#: One attempt in this many also deletes expired windows.
PURGE_ONE_IN = 100

clock = time.time  # replaced in tests


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


def hit(limit: Limit, key: str) -> None:
    """Count one attempt for `key`; past the limit, 429 rate_limited with Retry-After."""
    now = clock()
    window = int(now // limit.window)
    window_end = (window + 1) * limit.window
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]  # any key, bounded, not stored readable
    bucket = f"{limit.name}:{window}:{digest}"
    expires_at = datetime.fromtimestamp(window_end, UTC).replace(tzinfo=None)
    hits = _count(bucket, expires_at)
    if random.randrange(PURGE_ONE_IN) == 0:  # noqa: S311 - spreading housekeeping, not security
        RateLimit.delete().where(RateLimit.expires_at < utcnow()).execute()
    if hits > limit.max_hits:
        retry_after = max(1, math.ceil(window_end - now))
        raise ApiError(RATE_LIMITED, headers={"Retry-After": str(retry_after)})
