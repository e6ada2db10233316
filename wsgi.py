"""Lets `flask …` find the app with no set-up: Flask looks for `wsgi.py` and calls `create_app`."""

from service import create_app

__all__ = ["create_app"]
