"""The Litestar application: handlers, error handlers, and the gateway's lifecycle."""

from __future__ import annotations

from litestar import Litestar, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler

from proxy.accounting.refusals import RefusalLedger
from proxy.accounting.usage import UsageReport
from proxy.front_door import KEY, FrontDoor, constant, is_model_call
from proxy.gateway import Gateway
from proxy.limits import KeyLimiter, build_limiter
from proxy.observability.logs import configure_logging
from proxy.observability.observatory import Observatory
from proxy.server.redaction import install_redaction
from proxy.settings import Settings, load_settings
from proxy.surfaces.admin.handlers import admin_router, check_admin_config, own_usage
from proxy.surfaces.anthropic.handlers import anthropic_router
from proxy.surfaces.console import console_handlers
from proxy.surfaces.native.errors import (
    handle_client_gone,
    handle_gateway_error,
    handle_http_exception,
    handle_unexpected,
)
from proxy.surfaces.native.handlers import list_models, list_tasks, run_model
from proxy.surfaces.openai.handlers import openai_router
from proxy.surfaces.responses.handlers import responses_router
from proxy.surfaces.responses.store import ResponseStore
from schemas.errors import ClientDisconnected, GatewayError


@get("/healthz", name="healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", name="readyz", include_in_schema=False)
async def readyz(gateway: NamedDependency[Gateway]) -> Response[dict[str, str]]:
    if gateway.draining:
        return Response({"status": "draining"}, status_code=503)
    return Response({"status": "ready"})


def create_app(settings: Settings | None = None, gateway: Gateway | None = None) -> Litestar:
    install_redaction()
    if gateway is None:
        gateway = Gateway(settings or load_settings())
    config = gateway.settings.config
    check_admin_config(config)
    limiter = build_limiter(config.limits)
    limiter.watch(gateway.ledger)
    usage_report = UsageReport(gateway.settings.database_url, settled=gateway.ledger.flushed)
    response_store = ResponseStore(gateway.settings.database_url, config.responses.retention_days)
    observatory = Observatory(gateway)
    door = FrontDoor(config, gateway.keys, limiter, observatory, RefusalLedger(gateway.ledger, is_model_call))

    async def start() -> None:
        gateway.start()
        observatory.start()

    async def stop() -> None:
        await gateway.stop()
        await observatory.stop()
        if not isinstance(limiter, KeyLimiter):
            await limiter.aclose()
        usage_report.close()
        response_store.close()

    handlers: list[ControllerRouterHandler] = [
        run_model,
        list_models,
        list_tasks,
        healthz,
        readyz,
        openai_router,
        anthropic_router,
        responses_router,
        admin_router,
        own_usage,
    ]
    if config.ui.enabled:
        handlers.extend(console_handlers())

    app = Litestar(
        route_handlers=handlers,
        middleware=[door.middleware],
        dependencies={
            "gateway": constant(gateway),
            "usage_report": constant(usage_report),
            "response_store": constant(response_store),
            "key": KEY,
        },
        exception_handlers={
            ClientDisconnected: handle_client_gone,
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        after_exception=[door.after_exception],
        on_startup=[start],
        on_shutdown=[stop],
        openapi_config=OpenAPIConfig(title="unigate", version="0.1.0", path="/schema"),
        request_max_body_size=gateway.settings.config.server.max_body_bytes,
        debug=False,
        logging_config=None,  # logging is configured once by `unigate serve`, redaction installed
    )
    app.state.gateway = gateway
    app.state.usage_report = usage_report
    app.state.response_store = response_store
    app.state.observatory = observatory
    # the front door outermost, as Litestar's own OpenTelemetry plugin: it sees every answer
    app.asgi_handler = door.wrap(app.asgi_handler)
    return app


def app_from_environment() -> Litestar:
    """The factory `unigate serve` hands the ASGI server (one call per worker process, where
    the logging `unigate serve` set up in its own process does not reach)."""
    settings = load_settings()
    configure_logging(settings.config.logging)
    return create_app(settings)
