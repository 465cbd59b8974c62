"""The web console at /ui: a playground for anyone with a proxy key, and operator views
(keys, usage, request log, pools, routes) behind the admin token.

Server-rendered Jinja2 pages with htmx, charts with Chart.js; every asset ships in
`static/` (copied from the npm packages pinned in `assets/` by `make ui`), so the console
works offline and behind a firewall. May import everything the gateway has; nothing
imports it but proxy/app.py.
"""

from proxy.surfaces.console.router import console_handlers

__all__ = ["console_handlers"]
