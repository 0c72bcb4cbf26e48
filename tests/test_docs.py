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


def readme_commands() -> list[str]:
    """The README's opening shell blocks: install-and-serve, then install-and-test."""
    text = (DOCS.parent / "README.md").read_text()
    return [block.split("```")[0].strip() for block in text.split("```sh\n")[1:3]]


def test_readme_opens_with_two_one_line_commands_in_a_virtual_environment() -> None:
    serve, test = readme_commands()
    for command in (serve, test):
        assert "\n" not in command, command
        assert "python3 -m venv .venv" in command, command
        assert ".venv/bin/pip install" in command, command
    assert serve.endswith(".venv/bin/whiteboard serve")
    assert ".venv/bin/python -m pytest" in test.rsplit("&&", 1)[-1]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_lines = (DOCS.parent / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == readme_commands()[1]
