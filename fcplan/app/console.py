"""What every ``fcplan`` sub-command shares: the verbose flag, logging, settings, errors.

The environment is read here, once per command.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from fcplan.core.settings import Settings, load_settings

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")]

#: Exit statuses: 1 an error, 2 a bad setting, 3 nothing to work on yet,
#: 4 the database is unavailable (try again when it is back), 5 no Kafka broker answers.
EXIT_BAD_SETTING = 2
EXIT_DATABASE_DOWN = 4
EXIT_BROKER_DOWN = 5


def setup(verbose: bool = False) -> Settings:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return load_settings()
    except Exception as exc:
        typer.echo(f"error: bad FCPLAN_* setting: {one_line(exc)}", err=True)
        raise typer.Exit(EXIT_BAD_SETTING) from exc


def one_line(exc: Exception) -> str:
    """A settings error on one line, naming the variable."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        text = " ".join(str(exc).split())
        if "error parsing value" in text:  # pydantic-settings could not decode a JSON-valued variable
            text += " (FCPLAN_PLANNER_CENTER_OVERRIDES must be JSON, e.g. '{\"FC-1\": {\"minutes_per_order\": 1.5}}')"
        return text
    parts = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if err["loc"]:
            var = "FCPLAN_" + "_".join(str(p) for p in err["loc"]).upper()
            if err["type"] == "extra_forbidden":  # "Extra inputs are not permitted": which one was meant
                msg = _no_such_setting(var)
            parts.append(f"{var}={err.get('input')!r}: {msg}")
        else:  # a model-level check; its message names the variable itself
            parts.append(msg)
    return "; ".join(parts)


#: settings a user may look for among the variables that live in the centers file only
_CENTERS_FILE_ONLY = ("SERVICE_LEVEL", "ORDERS_PER_PACKER_HOUR", "MAX_PACKERS", "CLOSED", "BREAK", "PAID_HOURS")


def _no_such_setting(var: str) -> str:
    """What to write instead of ``var``, a section's variable that names no setting (it was pydantic's
    "Extra inputs are not permitted")."""
    from fcplan.core.settings import closest_variable

    if any(word in var for word in _CENTERS_FILE_ONLY):
        return (f"{var} is not a setting; set it per center in a centers file (FCPLAN_PLANNER_CENTERS_FILE or "
                "--centers, see centers.example.toml)")
    hint = closest_variable(var)
    return f"{var} is not a setting" + (f"; did you mean {hint}?" if hint else " (the README lists the settings)")


def check_forecast_models(names: tuple[str, ...]) -> None:
    """Exit 2 when ``FCPLAN_FORECAST_MODELS`` names no model or one the registry lacks: every retrain
    failed on it once orders were stored (the demo's cycle after cycle), and "" fitted the baselines alone."""
    from fcplan.models.registry import MODELS

    unknown = [n for n in names if n not in MODELS]
    if names and not unknown:
        return
    what = f"names unknown model(s) {unknown}" if unknown else "names no model"
    typer.echo(f"error: bad FCPLAN_* setting: FCPLAN_FORECAST_MODELS={','.join(names)!r} {what}; use names from "
               f"{sorted(MODELS)}, or unset it for the default pool", err=True)
    raise typer.Exit(EXIT_BAD_SETTING)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def database_outage(url: str, command: str) -> Iterator[None]:
    """Turn a database outage into one line and exit status 4 (no traceback);
    other errors pass through."""
    from fcplan.storage import outage

    try:
        yield
    except Exception as exc:
        if not outage.is_outage(exc):
            raise
        raise fail(
            f"{outage.describe(url, exc)}: start the database (or fix FCPLAN_DATABASE_URL) "
            f"and run `fcplan {command}` again",
            EXIT_DATABASE_DOWN,
        ) from exc


@contextmanager
def broker_outage(servers: str, command: str) -> Iterator[None]:
    """Turn a Kafka broker that does not answer at ``servers`` into one line and exit status 5
    (``fcplan worker``, ``simulate`` and ``replay`` ended on a traceback); other errors pass through."""
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    try:
        yield
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        raise fail(
            f"no Kafka broker answers at {servers} ({one_line(exc)}): start one (`fcplan broker`, or `fcplan demo` "
            f"for the whole pipeline) or set FCPLAN_KAFKA_BOOTSTRAP to yours, and run `fcplan {command}` again",
            EXIT_BROKER_DOWN,
        ) from exc
