"""006_exact_identifiers: identifier columns compare exactly on MySQL (utf8mb4_bin).

A column takes its table's collation unless it names one, and the usual
defaults (utf8mb4_unicode_ci, utf8mb4_general_ci, MySQL 8's utf8mb4_0900_ai_ci)
ignore letter case, so `oAbC` and `oabc` were one openid. Each column that is
compared for identity gets utf8mb4_bin, whatever the database's default; human
text (nicknames, names, messages) keeps the table's collation. The columns stay
VARCHARs of the same length, and their indexes are kept.

SQLite compares text byte for byte already: nothing to do there.

Downgrading returns each column to its table's collation. It refuses, before
changing anything, while a unique column holds values that collation would
call equal (two openids differing only in case): the old index cannot hold
both, and which user to keep is not a migration's decision.
"""

import peewee as pw
from peewee_migrate import Migrator

from service.migrations import MigrationError

EXACT = "utf8mb4_bin"

#: table -> (column, VARCHAR length, nullable, unique)
IDENTIFIERS = {
    "users": [
        ("openid", 64, False, True),
        ("unionid", 64, True, False),
        ("phone_number", 32, True, True),
    ],
    "auth_sessions": [("key", 32, False, True)],
    "refresh_tokens": [("token_hash", 64, False, True)],
    "rate_limits": [("bucket", 96, False, True)],
    "push_messages": [
        ("dedupe_key", 128, False, True),
        ("msg_id", 64, True, False),
        ("to_user", 64, True, False),
        ("from_user", 64, True, False),
    ],
}


def _on_mysql(database: pw.Database) -> bool:
    return isinstance(getattr(database, "obj", database), pw.MySQLDatabase)


def _alter(table: str, collate: str) -> str:
    """One ALTER per table: its columns change together, in one rebuild."""
    changes = ", ".join(
        f"MODIFY `{column}` VARCHAR({length}){collate} {'NULL' if nullable else 'NOT NULL'}"
        for column, length, nullable, _ in IDENTIFIERS[table]
    )
    return f"ALTER TABLE `{table}` {changes}"


def migrate(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    if not _on_mysql(database):
        return
    for table in IDENTIFIERS:
        migrator.sql(_alter(table, f" CHARACTER SET utf8mb4 COLLATE {EXACT}"))


def _refuse_values_the_old_collation_merges(database: pw.Database) -> None:
    for table, columns in IDENTIFIERS.items():
        (collation,) = database.execute_sql(
            "SELECT TABLE_COLLATION FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            (table,),
        ).fetchone()
        for column, _, _, unique in columns:
            if not unique:
                continue
            # Names from IDENTIFIERS above and the server's own collation name: no input.
            clashes = database.execute_sql(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM `{table}` WHERE `{column}` IS NOT NULL "  # noqa: S608
                f"GROUP BY `{column}` COLLATE {collation} HAVING COUNT(*) > 1) AS clash"
            ).fetchone()[0]
            if clashes:
                raise MigrationError(
                    f"cannot roll back 006_exact_identifiers: {table}.{column} holds {clashes} "
                    f"group(s) of values that {collation} calls equal (differing only in case), "
                    "which its unique index cannot hold; merge or remove them first"
                )


def rollback(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    if not _on_mysql(database):
        return
    migrator.run(_refuse_values_the_old_collation_merges, database)
    for table in IDENTIFIERS:
        # Neither CHARACTER SET nor COLLATE: the column takes its table's again.
        migrator.sql(_alter(table, ""))
