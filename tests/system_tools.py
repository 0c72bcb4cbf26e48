"""Debian programs some tests need (Chromium, redis-server, poppler's pdftoppm).

The README's test command installs them all. Without one, its tests fail in CI, which must run
them, and skip on a developer's machine, with the ``apt-get install`` that brings it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def program_path(name: str) -> str | None:
    """``name`` on PATH, or in /usr/bin where a test runner's PATH may not reach."""
    found = shutil.which(name)
    if found:
        return found
    fallback = Path("/usr/bin") / name
    return str(fallback) if fallback.exists() else None


def require_program(name: str, package: str, what: str) -> str:
    """The path of ``name``; without it fail in CI (``what`` must run there) or skip locally."""
    path = program_path(name)
    if path is None:
        message = f"Debian's {name} is not installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; {what} must run in CI", pytrace=False)
        pytest.skip(message)
    return path
