"""README.md's configuration table, checked against the settings: a default the table
prints is the one a user gets."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from fcplan.core.settings import Settings, environment_variables

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(?P<var>FCPLAN_[A-Z_]+)` \| (?P<default>[^|]+) \|", re.MULTILINE)


def _rows() -> dict[str, str]:
    return {m["var"]: m["default"].strip() for m in ROW.finditer(README.read_text(encoding="utf-8"))}


def _default(settings: Settings, var: str) -> object:
    name = var.removeprefix("FCPLAN_").lower()
    if name in Settings.model_fields:
        return getattr(settings, name)
    section, field = name.split("_", 1)
    return getattr(getattr(settings, section), field)


def _as_written(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def test_when_the_readme_lists_a_variable_then_the_settings_read_it() -> None:
    assert set(_rows()) <= environment_variables()


@pytest.mark.parametrize("var", sorted(_rows()))
def test_when_the_readme_gives_a_default_then_it_is_the_settings_default(
    var: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("FCPLAN_")]:
        monkeypatch.delenv(name)
    written = _rows()[var]
    value = _as_written(_default(Settings(), var))
    if written.startswith(("unset", "empty")):
        assert value in ("unset", ""), f"README: {var} defaults to {written!r}; the settings: {value!r}"
    elif written.startswith("`"):
        assert written.strip("`") == value, f"README: {var} defaults to {written}; the settings: {value}"
    else:
        assert float(written) == float(value), f"README: {var} defaults to {written}; the settings: {value}"
