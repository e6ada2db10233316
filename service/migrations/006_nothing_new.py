"""006_nothing_new: created by `flask db migrate`."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    migrator.drop_index("users", "openid")

    migrator.drop_index("users", "phone_number")

    migrator.add_index("users", "openid", unique=True)

    migrator.add_index("users", "phone_number", unique=True)

    migrator.drop_index("auth_sessions", "key")

    migrator.drop_index("auth_sessions", "user")

    migrator.add_index("auth_sessions", "key", unique=True)

    migrator.add_index("auth_sessions", "user", unique=False)

    migrator.drop_index("push_messages", "dedupe_key")

    migrator.add_index("push_messages", "dedupe_key", unique=True)

    migrator.drop_index("refresh_tokens", "session")

    migrator.drop_index("refresh_tokens", "token_hash")

    migrator.add_index("refresh_tokens", "session", unique=False)

    migrator.add_index("refresh_tokens", "token_hash", unique=True)


def rollback(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    migrator.drop_index("refresh_tokens", "session")

    migrator.drop_index("refresh_tokens", "token_hash")

    migrator.add_index("refresh_tokens", "session", unique=False)

    migrator.add_index("refresh_tokens", "token_hash", unique=True)

    migrator.drop_index("push_messages", "dedupe_key")

    migrator.add_index("push_messages", "dedupe_key", unique=True)

    migrator.drop_index("auth_sessions", "key")

    migrator.drop_index("auth_sessions", "user")

    migrator.add_index("auth_sessions", "key", unique=True)

    migrator.add_index("auth_sessions", "user", unique=False)

    migrator.drop_index("users", "openid")

    migrator.drop_index("users", "phone_number")

    migrator.add_index("users", "openid", unique=True)

    migrator.add_index("users", "phone_number", unique=True)
