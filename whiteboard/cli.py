"""``whiteboard serve`` and ``whiteboard export``: settings from flags and environment, Hypercorn.

Every setting in ``settings.SETTINGS`` is a flag of ``serve`` and an environment variable; the flag
wins. SIGTERM or SIGINT close every WebSocket with 1001 (pages reconnect and resume), flush every
board's log, then stop the server.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from . import settings as settings_module
from .logformat import configure_logging
from .loglimit import limit_repeats
from .server.app import create_app, shutdown
from .server.eventloop import ServerEventLoop
from .server.sharing import ShareLinks
from .settings import SETTINGS, Settings
from .store.descriptors import raise_open_file_limit
from .supervisor import LISTEN_FD_ENV, WORKER_INDEX_ENV, Supervisor

log = logging.getLogger("whiteboard")
hypercorn_log = logging.getLogger("whiteboard.hypercorn")
"""Hypercorn's own log, under our name, with the root's handlers (and filter). Its only INFO line
is "Running on ...", which our start-up line already says (with the LAN address): warnings up."""
hypercorn_log.setLevel(logging.WARNING)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whiteboard",
        description="Self-hosted real-time collaborative whiteboard.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  whiteboard serve                                  http://127.0.0.1:8000, boards in ./boards
  whiteboard serve --host 0.0.0.0 --public-url http://192.168.1.20:8000
                                                    let phones on the LAN join via share/QR
  whiteboard serve --boards-dir /var/lib/whiteboard --public-url https://board.example.org
  whiteboard export team-retro -o retro.png         also .svg, .pdf, .gif (timelapse)
  whiteboard check --all                            verify every board log, change nothing

Each option is also an environment variable WHITEBOARD_<OPTION> (WHITEBOARD_PORT=9000);
a command-line flag wins. `whiteboard serve --help` lists every option with its default.""",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the whiteboard server. To let phones and other computers join, use "
        "--host 0.0.0.0 and, behind an HTTPS reverse proxy, --public-url https://your.host.",
    )
    for setting in SETTINGS:
        default = setting.default
        shown = "on" if default is True else "off" if default is False else default
        flags = ["--" + setting.name.replace("_", "-")]
        if setting.name == "redis_url":
            flags.append("--redis")
        serve.add_argument(
            *flags,
            dest=setting.name,
            default=None,
            metavar=setting.name.upper(),
            help=f"{setting.help} [{settings_module.env_name(setting.name)}; default {shown!r}]",
        )
    from .export.cli import add_export_command
    from .redis_cli import add_redis_command
    from .store.check import add_check_command

    add_export_command(commands)
    add_check_command(commands)
    add_redis_command(commands)
    return parser


def settings_from_args(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    flags = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    return settings_module.from_sources(flags, environ)


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.backlog = settings.listen_backlog
    config.websocket_max_message_size = settings.max_frame_bytes
    config.websocket_ping_interval = None  # the hub pings (sink.PING_FRAME says why)
    config.graceful_timeout = 3
    config.accesslog = None
    config.errorlog = hypercorn_log
    return config


def startup_message(settings: Settings, bind: str) -> str:
    """The one line that says where the server is and how other devices reach it."""
    message = f"whiteboard serving on http://{bind} (boards in {settings.boards_dir.resolve()})"
    others = ShareLinks(settings).startup_urls()
    if others:
        return f"{message}; other devices open {' or '.join(others)}"
    if settings.host in LOOPBACK_HOSTS:
        return f"{message}; only this computer can open it (--host 0.0.0.0 lets the LAN join)"
    return message


def freeze_startup_objects() -> None:
    """Leave what start-up built (modules, classes, functions: ~56,000 objects) out of every
    later garbage collection. A full collection walks every tracked object, and over these it
    held the event loop for ~15 ms, a stall every board felt; they live as long as the server."""
    gc.collect()
    gc.freeze()


GIL_SWITCH_INTERVAL_S = 0.001
"""How long a thread waiting for the GIL lets the event loop keep it (Python's default: 5 ms).
A log append runs in a thread (write, fsync) and takes the GIL back after each system call;
while a big board loads in 4 ms slices, each of those waited for the slice to end, and one
append took 13 ms (of which a few µs of work). At 1 ms the loop hands the GIL over mid-slice."""


async def run_server(settings: Settings, config: Config | None = None) -> None:
    before, after = raise_open_file_limit()
    if after > before:
        log.info("open-file limit raised from %d to %d", before, after)
    app = create_app(settings)
    freeze_startup_objects()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    max_connections = app.extensions["whiteboard_admission"].max_connections
    log.info("open-file limit %d: at most %d WebSockets at once", after, max_connections)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        log.info("shutting down: closing connections with 1001 and flushing board logs")
        await shutdown(app)

    config = config or hypercorn_config(settings)
    listen_fd = os.environ.get(LISTEN_FD_ENV)
    if listen_fd:  # a worker of `--workers N`: the supervisor bound the socket
        config.bind = [f"fd://{int(listen_fd)}"]
        log.info("worker %s serving the socket of its supervisor", os.environ.get(WORKER_INDEX_ENV))
    else:
        log.info("%s", startup_message(settings, config.bind[0]))
    await hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings = settings_from_args(args, dict(os.environ))
    except ValueError as exc:
        parser.error(str(exc))
    configure_logging(settings.log_format)
    if args.command == "serve":
        limit_repeats()
        if settings.workers > 1 and not os.environ.get(LISTEN_FD_ENV):
            log.info("%s", startup_message(settings, f"{settings.host}:{settings.port}"))
            raw = sys.argv[2:] if argv is None else list(argv)[1:]
            return Supervisor(settings, raw, backlog=hypercorn_config(settings).backlog).run()
        with asyncio.Runner(
            loop_factory=lambda: ServerEventLoop(settings.accepts_per_second, settings.accept_burst)
        ) as run:
            run.run(run_server(settings))
        return 0
    run = getattr(args, "run", None) or args.run_export
    return run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
