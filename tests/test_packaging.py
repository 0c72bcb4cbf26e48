"""What ``pip install .`` puts on a machine is the whole server.

The package list in pyproject.toml is explicit (``static/`` is mapped into the package), so a new
subpackage left out of it installs a server that dies on import; the tests, which run from the
checkout, would never notice.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_package_of_the_checkout_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "whiteboard").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == {"whiteboard.static"}  # the page, mapped from static/


def test_python_modules_outside_packages_would_not_be_installed() -> None:
    """A directory of modules without ``__init__.py`` is not a package setuptools installs."""
    stray = [
        str(directory.relative_to(ROOT))
        for directory in (ROOT / "whiteboard").rglob("*")
        if directory.is_dir()
        and directory.name != "__pycache__"
        and any(directory.glob("*.py"))
        and not (directory / "__init__.py").exists()
    ]
    assert stray == []
