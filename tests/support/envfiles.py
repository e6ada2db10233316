"""`.env.<mode>` files: settings for one test mode, kept out of the repository."""

from __future__ import annotations

from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def load_mode(mode: str) -> Path | None:
    """Load `.env.<mode>` when it exists; variables already in the environment win."""
    path = PROJECT_ROOT / f".env.{mode}"
    if not path.is_file():
        return None
    load_dotenv(path, override=False)
    return path
