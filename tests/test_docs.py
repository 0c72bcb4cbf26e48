"""The documentation keeps up with the code: every setting, close code and error code is listed."""

from __future__ import annotations

from pathlib import Path

from whiteboard.protocol import CloseCode, ErrorCode
from whiteboard.settings import SETTINGS, env_name

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_documented_with_its_flag_and_environment_variable() -> None:
    text = (DOCS / "settings.md").read_text()
    for setting in SETTINGS:
        assert f"`--{setting.name.replace('_', '-')}`" in text, setting.name
        assert f"`{env_name(setting.name)}`" in text, setting.name


def test_every_close_code_and_error_code_is_in_the_protocol_doc() -> None:
    text = (DOCS / "protocol.md").read_text()
    for code in CloseCode:
        assert f"| {code.value} |" in text, code
    for error in ErrorCode:
        assert f"`{error.value}`" in text, error


def test_ci_runs_exactly_the_readme_test_command() -> None:
    root = DOCS.parent
    readme_commands = [
        line
        for line in (root / "README.md").read_text().splitlines()
        if line.startswith(("pip install", "apt-get"))
    ]
    assert len(readme_commands) == 2, readme_commands
    ci_lines = (root / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == readme_commands[1]
