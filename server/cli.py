"""The `twin` command with the server: every twin.cli subcommand, plus

    twin serve [PROJECT] [--host 127.0.0.1] [--port 8000] [--instance DIR] [--threads N] [--no-warm]

`serve` runs the Flask app under waitress and prints the URL to open once it listens; it
lives here because twin never imports server. Every other subcommand is handed to
twin.cli.main unchanged (same output, same `error: ...` line and exit status 2 on bad input).
Flask and waitress are imported only by `serve`, so `twin info` starts as fast as before.
"""
from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from twin import cli as twin_cli
from twin.errors import TwinError

SAMPLE_PROJECT = twin_cli.SAMPLE_PROJECT


def build_parser() -> argparse.ArgumentParser:
    parser = twin_cli.build_parser()
    p = parser.subcommands.add_parser("serve", help="serve a project to the browser viewer (Flask app under waitress)")
    p.add_argument("project", nargs="?", default=str(SAMPLE_PROJECT),
                   help="project folder with a project.toml (default: the sample community)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--instance", metavar="DIR", help="folder for generated files such as the GLB cache "
                                                     "(default: instance/ of the repository)")
    p.add_argument("--threads", type=int, default=8, help="waitress worker threads (default 8)")
    p.add_argument("--no-warm", action="store_true",
                   help="do not prepare each state's GLB in the background after start-up")
    p.set_defaults(func=cmd_serve)
    return parser


def _warm(app, project_names: list[str]) -> None:
    """Load each state and cache its GLB and map layers (the pins), in the background, so the
    first visitor waits less. Failures are left for the request that meets them to report."""
    from server.payloads import layers_geojson
    from server.services import EXTENSION

    services = app.extensions[EXTENSION]
    for name in project_names:
        try:
            project = services.catalog.get(name)
            for spec in project.states:
                services.glb.get(project, spec.name)
                # the same memo the /layers route reads
                services.states.memo(project, spec.name, "layers_geojson", lambda twin: layers_geojson(twin, twin.layers))
        except Exception as exc:  # noqa: BLE001 — a background nicety must never kill the server
            logging.getLogger("server").warning("warm-up of %s stopped: %s", name, exc)


def cmd_serve(args) -> int:
    from waitress import create_server

    from server.app import create_app

    if not 0 <= args.port <= 65535:
        raise TwinError(f"--port {args.port}: expected 0-65535")
    config = {"PROJECTS": [args.project]}
    if args.instance:
        config["INSTANCE_PATH"] = args.instance
    app = create_app(config)
    catalog = app.extensions["community_twin"].catalog
    listing = catalog.listing()
    for name, _, error in listing:
        if error is not None:
            raise error
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = create_server(app, host=args.host, port=args.port, threads=args.threads)
    except OSError as exc:
        raise TwinError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{server.effective_port}/"
    print(f"Community Twin: serving {', '.join(name for name, _, _ in listing)} — open {url}  (Ctrl-C stops)\n"
          f"  screening for residents (full screen, Chinese): {url}?screen=1&lang=zh", flush=True)
    if not args.no_warm:
        threading.Thread(target=_warm, args=(app, [name for name, _, _ in listing]), name="warm-glb", daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:  # the normal way to stop a server, not an error
        print("stopped", file=sys.stderr)
    finally:
        server.close()
        app.extensions["community_twin"].jobs.shutdown(wait=False)  # queued jobs: failed on next start
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help and usage errors, with serve listed
    if args.command != "serve":
        return twin_cli.main(argv)
    try:
        return cmd_serve(args)
    except TwinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
