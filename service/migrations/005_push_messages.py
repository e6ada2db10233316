"""005_push_messages: created by `flask db migrate`."""

import peewee as pw
from peewee_migrate import Migrator


class LongTextField(pw.TextField):
    field_type = "LONGTEXT"


def migrate(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    @migrator.create_model
    class PushMessage(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        dedupe_key = pw.CharField(max_length=128, unique=True)
        msg_id = pw.CharField(max_length=64, null=True)
        to_user = pw.CharField(max_length=64, null=True)
        from_user = pw.CharField(max_length=64, null=True)
        create_time = pw.BigIntegerField(null=True)
        msg_type = pw.CharField(max_length=32, null=True)
        event = pw.CharField(max_length=64, null=True)
        content = pw.TextField(null=True)
        payload = LongTextField()

        class Meta:
            table_name = "push_messages"


def rollback(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    migrator.remove_model("push_messages")
