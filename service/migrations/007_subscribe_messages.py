"""007_subscribe_messages: the outbox of subscribe messages, and the users' permissions.

Created by `flask db migrate`; the identifier columns (template ids, claim
tokens) are given utf8mb4_bin by hand on MySQL, as 006_exact_identifiers
gives the older ones: SQLite compares all text exactly and has no such collation.
"""

import peewee as pw
from peewee_migrate import Migrator

EXACT = "utf8mb4_bin"


def migrate(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    on_mysql = isinstance(getattr(database, "obj", database), pw.MySQLDatabase)
    exact = EXACT if on_mysql else None

    @migrator.create_model
    class Notification(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        user = pw.ForeignKeyField(
            column_name="user_id", field="id", model=migrator.orm["users"], on_delete="CASCADE"
        )
        kind = pw.CharField(max_length=32)
        template_id = pw.CharField(max_length=64, collation=exact)
        page = pw.CharField(max_length=255, null=True)
        data = pw.TextField()
        status = pw.CharField(default="pending", max_length=8)
        attempts = pw.IntegerField(default=0)
        last_errcode = pw.IntegerField(null=True)
        last_error = pw.CharField(max_length=32, null=True)
        next_attempt_at = pw.DateTimeField()
        claimed_by = pw.CharField(max_length=32, null=True, collation=exact)
        claimed_until = pw.DateTimeField(null=True)
        in_flight = pw.BooleanField(default=False)
        permission_taken = pw.BooleanField(default=False)
        sent_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "notifications"
            indexes = ((("status", "next_attempt_at"), False),)

    @migrator.create_model
    class SubscribePermission(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        user = pw.ForeignKeyField(
            column_name="user_id", field="id", model=migrator.orm["users"], on_delete="CASCADE"
        )
        template_id = pw.CharField(max_length=64, collation=exact)
        remaining = pw.IntegerField(default=0)

        class Meta:
            table_name = "subscribe_permissions"
            indexes = ((("user", "template_id"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    migrator.remove_model("subscribe_permissions")
    migrator.remove_model("notifications")
