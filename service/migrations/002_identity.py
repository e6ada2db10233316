"""002_identity: created by `flask db migrate`."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    @migrator.create_model
    class User(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        openid = pw.CharField(max_length=64, unique=True)
        unionid = pw.CharField(max_length=64, null=True)
        nickname = pw.CharField(max_length=64, null=True)
        avatar_url = pw.CharField(max_length=512, null=True)
        role = pw.IntegerField(default=1)
        status = pw.IntegerField(default=1)
        verification_status = pw.IntegerField(default=0)

        class Meta:
            table_name = "users"

    @migrator.create_model
    class AuthSession(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        user = pw.ForeignKeyField(
            column_name="user_id", field="id", model=migrator.orm["users"], on_delete="CASCADE"
        )
        key = pw.CharField(max_length=32, unique=True)
        revoked_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "auth_sessions"

    @migrator.create_model
    class RefreshToken(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        session = pw.ForeignKeyField(
            column_name="session_id",
            field="id",
            model=migrator.orm["auth_sessions"],
            on_delete="CASCADE",
        )
        token_hash = pw.CharField(max_length=64, unique=True)
        expires_at = pw.DateTimeField()
        used_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "refresh_tokens"


def rollback(migrator: Migrator, database: pw.Database, *, fake: bool = False) -> None:
    migrator.remove_model("refresh_tokens")

    migrator.remove_model("auth_sessions")

    migrator.remove_model("users")
