"""Lets `flask …` find the app with no set-up: Flask looks for `wsgi.py` and calls `create_app`."""

import click
from flask import Flask

import service
from service.config import ConfigError


def create_app() -> Flask:
    """The app on the environment's settings; an unusable one ends the command with one line.

    Flask shows a traceback for any other error while it loads the app.
    """
    try:
        return service.create_app()
    except ConfigError as error:
        raise click.ClickException(f"refusing to start: {error}") from None


__all__ = ["create_app"]
