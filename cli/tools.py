"""``modeldb demo``, ``modeldb dashboard`` and ``modeldb services up|down|status``: the tools around the data."""
from __future__ import annotations

import shlex
import sys

import typer

from modeldb import embedded
from modeldb.cli.output import err, load_settings, out
from modeldb.core.config import DEFAULT_TOPIC
from modeldb.core.display import literal

commands = typer.Typer()
services_app = typer.Typer(no_args_is_help=True, help="Start and stop local Kafka and ClickHouse for development.")
commands.add_typer(services_app, name="services")


@commands.command()
def demo(
    runs: int = typer.Option(7, help="How many runs to track (5 to 10)."),
) -> None:
    """Log a small realistic project, materialize it, and answer questions about it in SQL."""
    from modeldb.devtools.demo import run_demo

    run_demo(load_settings(), runs=runs, console=out)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@commands.command()
def dashboard(
    port: int = typer.Option(8501, min=1, max=65535, help="Port to serve on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind. Only localhost by default: the dashboard has "
                             "no login of its own (see the README to put it behind authentication)."),
) -> None:
    """Start the Streamlit dashboard (read-only) on http://HOST:PORT."""
    import importlib.util
    import os

    settings = load_settings()
    if host not in LOCAL_HOSTS:
        err.print(f"[yellow]warning:[/yellow] binding {literal(host)}: anyone who can reach this port can read every "
                  "project. The dashboard is read-only but has no login; put it behind an authenticating proxy "
                  "(README, 'Dashboard').", highlight=False)
    spec = importlib.util.find_spec("modeldb.dashboard.app")
    if spec is None or spec.origin is None:
        raise typer.BadParameter("the dashboard is not installed (modeldb.dashboard.app is missing)")
    os.environ.setdefault("MODELDB_HOME", str(settings.home))
    where = "embedded, this process owns it" if embedded.is_embedded(settings) else "read-only"
    err.print(f"ModelDB dashboard on [bold]http://{literal(host)}:{port}[/bold]  (warehouse {literal(settings.warehouse_uri.redacted)}, "
              f"{where}). Ctrl-C stops it.", highlight=False)
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", spec.origin,
                              "--server.address", host, "--server.port", str(port), "--server.headless", "true",
                              "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                              "--global.developmentMode", "false", "--client.toolbarMode", "viewer"])


@commands.command()
def server(
    port: int = typer.Option(5000, min=1, max=65535, help="Port to serve on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind. Only localhost by default: the server has no "
                             "login of its own (see the README to put it behind authentication)."),
) -> None:
    """Serve MLflow's tracking REST API on http://HOST:PORT: MLflow clients log into ModelDB."""
    import uvicorn

    from modeldb.server.app import build

    settings = load_settings()
    if host not in LOCAL_HOSTS:
        err.print(f"[yellow]warning:[/yellow] binding {literal(host)}: anyone who can reach this port can log "
                  "and read every project; put it behind an authenticating proxy (README, 'MLflow clients').",
                  highlight=False)
    app = build(settings)
    err.print(f"ModelDB's MLflow tracking server on [bold]http://{literal(host)}:{port}[/bold]  (events to "
              f"{literal(settings.transport_uri.redacted)}, reads from {literal(settings.warehouse_uri.redacted)}). "
              "Ctrl-C stops it.", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@services_app.command("up")
def services_up() -> None:
    """Start Kafka (KRaft) and ClickHouse on free loopback ports."""
    from modeldb.devtools import services

    settings = load_settings()
    with err.status("starting Kafka and ClickHouse…"):
        started = services.up(settings.home)
    for service in started:
        out.print(f"{service.name:<11} pid {service.pid:<7} {service.url}")
    kafka = next(s for s in started if s.name == "kafka")
    ch = next(s for s in started if s.name == "clickhouse")
    # Quoted for the shell: the warehouse URI carries ?http_port=, and zsh refuses an unmatched glob.
    out.print(f"\nexport MODELDB_TRANSPORT={shlex.quote(f'{kafka.url}/{DEFAULT_TOPIC}')}"
              f"\nexport MODELDB_WAREHOUSE={shlex.quote(ch.url)}")


@services_app.command("down")
def services_down() -> None:
    """Stop the services started by `modeldb services up`."""
    from modeldb.devtools import services

    stopped = services.down(load_settings().home)
    err.print(f"stopped {', '.join(s.name for s in stopped)}" if stopped else "no services were running")


@services_app.command("status")
def services_status() -> None:
    """Show the local services and whether they are alive."""
    from modeldb.devtools import services

    listed = services.status(load_settings().home)
    if not listed:
        out.print("no services started (run `modeldb services up`)")
    for service in listed:
        state = "[green]up[/green]" if service.alive() else "[red]down[/red]"
        out.print(f"{service.name:<11} {state}  pid {service.pid:<7} {service.url}")
