"""`unigate serve | keys | check | catalogue`: the fixed operating interface (see
docs/design.md and the README's "Use it")."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime

from proxy.config_check import config_facts, route_lines
from proxy.identity.keys import KeyStore
from proxy.observability.logs import configure_logging, resolved_format
from proxy.server.protocol import ReceiptDeadlineProtocol
from proxy.settings import ConfigError, Settings, load_settings


def _settings(path: str | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as error:
        sys.exit(f"unigate: {error}")


def _announce(settings: Settings, host: str, port: int) -> None:
    """First run: where it listens, the console, the routes, and how to make a first key."""
    config = settings.config
    everywhere = host in ("0.0.0.0", "::", "")  # noqa: S104 - a comparison, not a bind
    url = f"http://{'127.0.0.1' if everywhere else host}:{port}"
    print(f"unigate: listening on {host}:{port}{' (all interfaces)' if everywhere else ''}", flush=True)
    if config.ui.enabled:
        operators = "behind the admin token" if config.admin.token else "off (set [admin] token)"
        print(f"console: {url}/ui (playground; operator views {operators})")
    print("routes, in matching order:")
    print("\n".join(route_lines(config_facts(settings).routes)))
    store = KeyStore(settings.database_url)
    try:
        has_key = any(record.revoked_at is None for record in store.list())
    finally:
        store.close()
    if not has_key:
        where = f" --config {settings.path}" if settings.path is not None else ""
        print(f"no proxy key exists yet; make one with:\n  unigate keys create --name NAME{where}")
    sys.stdout.flush()


def _serve(arguments: argparse.Namespace) -> None:
    import uvicorn

    settings = _settings(arguments.config)
    server = settings.config.server
    host = arguments.host or server.host
    port = arguments.port if arguments.port is not None else server.port
    if settings.path is not None:
        os.environ["UNIGATE_CONFIG"] = str(settings.path.resolve())
    os.environ.setdefault("UNIGATE_DATABASE_URL", settings.database_url)
    # the workers decide `auto` as this process does (their standard error is the same)
    os.environ.setdefault("UNIGATE_LOG_FORMAT", resolved_format(settings.config.logging))
    configure_logging(settings.config.logging)
    metrics = settings.config.metrics
    workers = arguments.workers or server.workers
    if metrics.enabled and (workers > 1 or metrics.port is not None):
        _multiprocess_metrics()
        if metrics.port is not None:
            from proxy.observability.endpoint import serve_separately
            from proxy.observability.metrics import merged_exposition

            serve_separately(host, metrics.port, metrics.token, merged_exposition)
    _announce(settings, host, port)
    uvicorn.run(
        "proxy.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=ReceiptDeadlineProtocol,
        limit_concurrency=server.max_connections,
        access_log=False,  # unigate.access writes one line per request (proxy/observability)
        log_config=None,  # uvicorn's loggers go through the root handler configure_logging set
        server_header=False,
        timeout_graceful_shutdown=int(settings.config.dispatch.shutdown_grace) + 5,
        log_level="info",
    )


def _multiprocess_metrics() -> None:
    """Every worker writes its metric values under one directory, which a scrape merges
    (prometheus-client's multiprocess mode); a fresh one per `unigate serve`, removed at exit,
    unless the operator named one in PROMETHEUS_MULTIPROC_DIR. Set before any worker imports
    prometheus-client, which reads it at import.

    Only for `--workers` 2 or more, or a separate `[metrics] port` (answered by this process,
    outside the worker): one worker in-process keeps its values in memory and answers its
    own scrapes, which costs about half as much per request as a memory-mapped file write
    per value (bench.observability)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = tempfile.mkdtemp(prefix="unigate-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _keys(arguments: argparse.Namespace) -> None:
    store = KeyStore(_settings(arguments.config).database_url)
    try:
        if arguments.keys_command == "create":
            record, key = store.create(
                arguments.name,
                rpm=arguments.rpm,
                tpm=arguments.tpm,
                concurrency=arguments.concurrency,
                budget=arguments.budget,
            )
            print(f"created key {record.id} ({record.name}); it is shown once, store it now:")
            print(key)
        elif arguments.keys_command == "list":
            print(
                f"{'id':<14}{'name':<24}{'created (UTC)':<22}{'revoked (UTC)':<22}"
                f"{'rpm':<10}{'tpm':<10}{'concurrency':<13}spent / budget (USD)"
            )
            for record in store.list():
                rpm, tpm, concurrency = (
                    "-" if value is None else str(value)
                    for value in (record.rpm, record.tpm, record.concurrency)
                )
                budget = "-" if record.budget is None else f"{record.budget:.6g}"
                print(
                    f"{record.id:<14}{record.name:<24}{_when(record.created_at):<22}"
                    f"{_when(record.revoked_at):<22}{rpm:<10}{tpm:<10}{concurrency:<13}"
                    f"{record.spent:.6g} / {budget}"
                )
        elif arguments.keys_command == "revoke":
            if not store.revoke(arguments.id):
                sys.exit(f"unigate: no active key with id {arguments.id}")
            print(f"revoked key {arguments.id}")
        elif arguments.keys_command == "budget":
            amount = arguments.amount
            if not store.set_budget(arguments.id, amount):
                sys.exit(f"unigate: no key with id {arguments.id}")
            print(f"key {arguments.id}: budget {'lifted' if amount is None else f'${amount:.6g}'}")
    finally:
        store.close()


def _check(arguments: argparse.Namespace) -> None:
    print("\n".join(config_facts(_settings(arguments.config)).lines()))


def _catalogue(arguments: argparse.Namespace) -> None:
    from proxy.routing import catalogue_file
    from proxy.routing.catalogue_check import report

    config = _settings(arguments.config).config
    try:
        catalogue = catalogue_file.load(config.catalogue.file)
    except catalogue_file.CatalogueError as error:
        sys.exit(f"unigate: {error}")
    stale_days = arguments.stale_days if arguments.stale_days is not None else config.catalogue.stale_days
    lines, complete = report(catalogue, config, datetime.now(UTC).date(), stale_days)
    print("\n".join(lines))
    if arguments.strict and not complete:
        sys.exit(1)


def _worker(arguments: argparse.Namespace) -> None:
    from proxy.reference_worker import server as worker

    missing = worker.missing_extra(arguments.task)
    if missing is not None:
        sys.exit(f"unigate: the worker needs {missing}; install it with: pip install 'unigate[worker]'")
    name = arguments.model_name or worker.default_name(arguments.task)
    worker.serve(arguments.host, arguments.port, name, arguments.task)


def _limit(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("a limit is 0 (unlimited) or more")
    return number


def _budget(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a budget is an amount in USD, like 25 or 2.50") from None
    if not 0 <= number < 1e12:
        raise argparse.ArgumentTypeError("a budget is 0 or more USD")
    return number


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="unigate", description="A self-hosted model gateway.")
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the gateway")
    serve.add_argument("--config", help="config file (default: $UNIGATE_CONFIG, then ./config.toml)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(handler=_serve)

    keys = commands.add_parser("keys", help="manage proxy API keys")
    keys.add_argument("--config")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key; prints it alone on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--rpm", type=_limit, help="requests per minute (0: unlimited; default: [limits])")
    create.add_argument("--tpm", type=_limit, help="tokens per minute (0: unlimited; default: [limits])")
    create.add_argument(
        "--concurrency", type=_limit, help="calls in flight (0: unlimited; default: [limits])"
    )
    create.add_argument("--budget", type=_budget, help="USD the key may spend in all (default: no budget)")
    create.add_argument("--config", default=argparse.SUPPRESS)
    budget = key_commands.add_parser("budget", help="set a key's spend budget in USD ('none' lifts it)")
    budget.add_argument("id")
    budget.add_argument("amount", type=lambda value: None if value == "none" else _budget(value))
    budget.add_argument("--config", default=argparse.SUPPRESS)
    listing = key_commands.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--config", default=argparse.SUPPRESS)
    revoke = key_commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    revoke.add_argument("--config", default=argparse.SUPPRESS)
    keys.set_defaults(handler=_keys)

    check = commands.add_parser("check", help="validate a config and print the routes it gives")
    check.add_argument("--config")
    check.set_defaults(handler=_check)

    catalogue = commands.add_parser("catalogue", help="the model catalogue: prices, sizes, capabilities")
    catalogue_commands = catalogue.add_subparsers(dest="catalogue_command", required=True)
    catalogue_check = catalogue_commands.add_parser(
        "check", help="print what is priced, what is not, and what is stale"
    )
    catalogue_check.add_argument("--config")
    catalogue_check.add_argument(
        "--stale-days", type=_limit, help="a price read longer ago is stale (default: [catalogue])"
    )
    catalogue_check.add_argument(
        "--strict", action="store_true", help="exit 1 when a model is unpriced or stale"
    )
    catalogue.set_defaults(handler=_catalogue)

    worker = commands.add_parser(
        "worker", help="serve the reference embedding worker (needs the [worker] extra)"
    )
    worker.add_argument("--host", default="127.0.0.1")
    worker.add_argument("--port", type=int, default=8000)
    worker.add_argument("--model-name", help="the model id it answers as (default: its own)")
    worker.add_argument(
        "--task",
        choices=("feature-extraction", "automatic-speech-recognition"),
        default="feature-extraction",
        help="embeddings (all-MiniLM-L6-v2) or speech recognition (PocketSphinx en-us)",
    )
    worker.set_defaults(handler=_worker)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser().parse_args(argv)
    arguments.handler(arguments)


if __name__ == "__main__":
    main()
