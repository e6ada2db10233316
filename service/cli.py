"""`flask db …` and the other operator commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec

import click
from flask import Flask
from flask.cli import AppGroup
from peewee import Field

from service import config, db, migrations, outbox, schema, wechat
from service.models import Role, Status, User, utcnow

P = ParamSpec("P")


def _one_line_errors(callback: Callable[P, None]) -> Callable[P, None]:
    """A migration that cannot run, or a database out of reach, is one line on stderr and
    exit 1, not a traceback."""

    @functools.wraps(callback)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            callback(*args, **kwargs)
        except migrations.MigrationError as error:
            raise click.ClickException(str(error)) from None
        except db.UNAVAILABLE_ERRORS as error:
            raise click.ClickException(f"cannot use the database: {db.explain(error)}") from None

    return wrapped


db_cli = AppGroup("db", help="Schema migrations (peewee-migrate files in service/migrations/).")


@db_cli.command("upgrade")
@_one_line_errors
def upgrade() -> None:
    """Apply every pending migration."""
    applied = migrations.upgrade()
    click.echo("\n".join(f"applied {name}" for name in applied) or "nothing to apply")


@db_cli.command("downgrade")
@click.argument("steps", type=click.IntRange(min=1), default=1)
@_one_line_errors
def downgrade(steps: int) -> None:
    """Roll back the last STEPS migrations (default 1)."""
    rolled = migrations.downgrade(steps)
    click.echo("\n".join(f"rolled back {name}" for name in rolled) or "nothing to roll back")


@db_cli.command("current")
@_one_line_errors
def current() -> None:
    """The newest applied migration."""
    applied = migrations.status().applied
    click.echo(applied[-1] if applied else "(none applied)")


@db_cli.command("history")
@_one_line_errors
def history() -> None:
    """Every migration, applied or pending."""
    state = migrations.status()
    for name in state.applied:
        click.echo(f"[x] {name}")
    for name in state.pending:
        click.echo(f"[ ] {name}")


@db_cli.command("migrate")
@click.option("-m", "--message", required=True, help="What the migration does, in a few words.")
def migrate(message: str) -> None:
    """Write a migration for the model changes the migrations do not have yet."""
    slug = "_".join(message.lower().split())
    if not slug.replace("_", "").isalnum():
        raise click.BadParameter("use letters, digits and spaces", param_hint="--message")
    created = migrations.create(slug)
    if created is None:
        click.echo("no changes: the models match the migrations")
    else:
        click.echo(f"created {migrations.MIGRATIONS_DIR / created}.py")


@db_cli.command("schema")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file."
)
def schema_command(output: Path | None) -> None:
    """Print the migrated MySQL schema as DDL (the source of schema.sql)."""
    text = schema.render()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


users_cli = AppGroup("users", help="User administration.")
ROLE_NAMES = {role.label: role for role in Role}


@users_cli.command("promote")
@click.argument("who")
@click.option(
    "--role",
    "role_name",
    type=click.Choice(sorted(ROLE_NAMES)),
    default="admin",
    show_default=True,
    help="The role to give.",
)
def promote(who: str, role_name: str) -> None:
    """Give WHO (an openid, or a user id) a role: how the first admin is made.

    Making an admin also enables the user: the command is how an operator
    recovers a service whose admins were all disabled, and a disabled admin
    could do nothing. It prints every change it made, or that there was none.
    """
    user = User.get_or_none(User.openid == who)
    if user is None and who.isdigit():
        user = User.get_or_none(User.id == int(who))
    if user is None:
        raise click.ClickException(f"no user with openid or id {who!r}; log in once first")
    role = ROLE_NAMES[role_name]
    changes: dict[Field, object] = {}
    said = []
    old_role = Role(int(user.role))
    if old_role != role:
        changes[User.role] = int(role)
        said.append(f"role {old_role.label} ({int(old_role)}) -> {role.label} ({int(role)})")
    old_status = Status(int(user.status))
    if role == Role.ADMIN and old_status != Status.NORMAL:
        changes[User.status] = int(Status.NORMAL)
        said.append(f"status {old_status.label} -> {Status.NORMAL.label}")
    if not changes:
        click.echo(f"user {user.id} is already {role.label} ({int(role)}): nothing changed")
        return
    User.update({**changes, User.updated_at: utcnow()}).where(User.id == user.id).execute()
    click.echo(f"user {user.id}: " + "; ".join(said))
    if role != Role.ADMIN and old_status != Status.NORMAL:
        click.echo(f"user {user.id} stays {old_status.label}")


outbox_cli = AppGroup("outbox", help="Subscribe messages waiting to be sent.")


@outbox_cli.command("drain")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=outbox.DRAIN_LIMIT,
    show_default=True,
    help="Rows to take up, oldest first.",
)
@_one_line_errors
def drain(limit: int) -> None:
    """Deliver the notifications that are due: after a restart, or from a scheduled job.

    Safe to run beside the service and beside other drains: each row is sent
    by whichever claims it first. Prints what became of the rows it took up.
    """
    counts = outbox.drain(wechat.client(), config.current(), limit)
    click.echo(", ".join(f"{name} {count}" for name, count in counts.items()))


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(outbox_cli)
