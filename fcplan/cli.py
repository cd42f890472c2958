"""The ``fcplan`` console command. The environment is read here, once."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from fcplan.settings import Settings, load_settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Streaming capacity planner for fulfillment centers: order events in, packer headcount out.",
)

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")]

#: Exit statuses: 1 an error, 2 a bad setting, 3 nothing to work on yet,
#: 4 the database is unavailable (try again when it is back).
EXIT_BAD_SETTING = 2
EXIT_DATABASE_DOWN = 4


def _setup(verbose: bool = False) -> Settings:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return load_settings()
    except Exception as exc:
        typer.echo(f"error: bad FCPLAN_* setting: {_one_line(exc)}", err=True)
        raise typer.Exit(EXIT_BAD_SETTING) from exc


def _one_line(exc: Exception) -> str:
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
            parts.append(f"{var}={err.get('input')!r}: {msg}")
        else:  # a model-level check; its message names the variable itself
            parts.append(msg)
    return "; ".join(parts)


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


@app.command()
def broker(
    port: Annotated[int | None, typer.Option(help="Port (default FCPLAN_KAFKA_BROKER_PORT, 9092).")] = None,
    verbose: Verbose = False,
) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, memory-only) until Ctrl-C."""
    from fcplan.broker import BrokerError, EmbeddedBroker
    from streams.topics import ensure_topics

    settings = _setup(verbose)
    k = settings.kafka
    try:
        with EmbeddedBroker(host=k.broker_host, port=port or k.broker_port) as running:
            ensure_topics(running.bootstrap, k.partitions)
            typer.echo(f"embedded broker ready on {running.bootstrap} (memory-only); Ctrl-C stops it")
            _wait_for_signal()
    except BrokerError as exc:
        raise fail(str(exc)) from exc


def _wait_for_signal() -> None:
    stop = {"flag": False}

    def handler(signum: int, _frame: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, handler)
    try:
        while not stop["flag"]:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


@app.command()
def worker(verbose: Verbose = False) -> None:
    """Run the streams worker: orders and promotions in, hourly counts and calendar out."""
    from streams.app import run_worker

    settings = _setup(verbose)
    sys.argv = [sys.argv[0]]  # faust's Worker parses the command line
    run_worker(settings, loglevel="info" if verbose else "warn")


def main() -> None:
    app()


def _register_parts() -> None:
    """Sub-commands that live with their parts (imported late: they import this module)."""
    from fcplan import commands
    from models import cli as model_cli

    commands.register(app)
    model_cli.register(app)


_register_parts()

if __name__ == "__main__":  # pragma: no cover
    main()
