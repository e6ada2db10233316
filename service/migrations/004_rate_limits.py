"""004_rate_limits: created by `flask db migrate`."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    @migrator.create_model
    class RateLimit(pw.Model):
        bucket = pw.CharField(max_length=96, primary_key=True)
        hits = pw.IntegerField()
        expires_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "rate_limits"


def rollback(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    migrator.remove_model("rate_limits")
