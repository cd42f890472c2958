"""The ``fcplan`` console command: ``broker`` and ``worker`` here, the other sub-commands
from :mod:`fcplan.app.commands` and :mod:`fcplan.app.forecast_commands`."""

from __future__ import annotations

import signal
import sys
import time
from typing import Annotated

import typer

from fcplan.app.console import Verbose, broker_outage, fail, setup

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Streaming capacity planner for fulfillment centers: order events in, packer headcount out.",
)


@app.command()
def broker(
    port: Annotated[int | None, typer.Option(
        min=0, max=65535, help="Port (default FCPLAN_KAFKA_BROKER_PORT, 9092); 0: any free port.")] = None,
    verbose: Verbose = False,
) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, memory-only) until Ctrl-C."""
    from fcplan.app.broker import BrokerError, EmbeddedBroker
    from fcplan.streams.topics import ensure_topics

    settings = setup(verbose)
    k = settings.kafka
    try:
        chosen = (k.broker_port if port is None else port) or None  # 0: pick one (and pick again if taken)
        with EmbeddedBroker(host=k.broker_host, port=chosen) as running:
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
    from fcplan.planner.centers import CentersError, configured_centers
    from fcplan.streams.app import run_worker

    settings = setup(verbose)
    try:
        closed = configured_centers(settings).closed_hours()  # closed days: no silent feed there
    except CentersError as exc:  # the orders still flow in; only the feed watch goes without closed days
        typer.echo(f"worker: {exc}; the feed watch runs without the centers' closed days", err=True)
        closed = None
    sys.argv = [sys.argv[0]]  # faust's Worker parses the command line
    with broker_outage(settings.kafka.servers, "worker"):
        run_worker(settings, loglevel="info" if verbose else "warn", closed=closed)


def main() -> None:
    app()


def _register_parts() -> None:
    """The sub-commands of the other app modules."""
    from fcplan.app import commands, forecast_commands

    commands.register(app)
    forecast_commands.register(app)


_register_parts()

if __name__ == "__main__":  # pragma: no cover
    main()
