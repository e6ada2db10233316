"""003_user_domain: created by `flask db migrate`."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    migrator.add_fields(
        "users",
        phone_number=pw.CharField(max_length=32, null=True, unique=True),
        real_name=pw.CharField(max_length=64, null=True),
        work_id=pw.CharField(max_length=64, null=True),
        verification_materials=pw.TextField(null=True),
        verification_applied_at=pw.DateTimeField(null=True),
        reviewed_by=pw.IntegerField(null=True),
        reviewed_at=pw.DateTimeField(null=True),
        review_note=pw.CharField(max_length=255, null=True),
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    migrator.remove_fields(
        "users",
        "phone_number",
        "real_name",
        "work_id",
        "verification_materials",
        "verification_applied_at",
        "reviewed_by",
        "reviewed_at",
        "review_note",
    )
