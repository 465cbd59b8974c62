"""What observing one request costs the gateway, alone: the observatory opening a request's
exchange and finishing it (its metrics, and its JSON access line written to /dev/null),
timed in-process (CPU time) over many requests so the figure does not move with the machine's load
the way a whole-request CPU figure does.

    .venv/bin/python -m bench.observability [--requests 20000]

Printed per configuration (the default: metrics and JSON access lines on, tracing off;
metrics off; the access line off; tracing on, every request sampled, no exporter): µs per
request. Divide by `bench.run`'s CPU per request to get the share issue 13 bounds (≤ 5 %).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from proxy.accounting.ledger import UsageRow
from proxy.gateway import Gateway
from proxy.observability.logs import configure_logging
from proxy.observability.observatory import Observatory
from proxy.settings import load_settings

CONFIGURATIONS = {
    "default (metrics, JSON access line)": '[logging]\nformat = "json"\n',
    "metrics off": '[logging]\nformat = "json"\n[metrics]\nenabled = false\n',
    "access line off": '[logging]\nformat = "json"\naccess_log = false\n',
    "tracing on": '[logging]\nformat = "json"\n[tracing]\nenabled = true\nsample_ratio = 1.0\n',
}
SCOPE = {
    "type": "http",
    "path": "/models/v2/openai/gpt-4o-mini",
    "method": "POST",
    "client": ("127.0.0.1", 50000),
    "headers": [(b"content-type", b"application/json")],
}


def per_request(config_text: str, requests: int, directory: Path, sink: object) -> float:
    home = Path(tempfile.mkdtemp(dir=directory))
    config = home / "config.toml"
    config.write_text(config_text)
    settings = load_settings(config, environ={"UNIGATE_DATABASE_URL": f"sqlite:///{home / 'u.db'}"})
    observatory = Observatory(Gateway(settings))
    configure_logging(settings.config.logging)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)  # type: ignore[arg-type]
    now = time.time()
    row = UsageRow(
        "r",
        "k",
        "openai/gpt-4o-mini",
        "openai",
        "completed",
        1,
        12,
        30,
        0,
        0,
        0.2,
        "tokens",
        2e-5,
        None,
        now,
        now,
    )
    began = time.process_time()  # CPU, not wall: other processes on the machine do not count
    for _ in range(requests):
        record = observatory.open(SCOPE)
        record.status, record.row, record.request_id = 200, row, "r"
        observatory.finish(record)
    return (time.process_time() - began) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    requests = parser.parse_args().requests
    with tempfile.TemporaryDirectory() as directory, Path("/dev/null").open("w") as sink:
        print("| configuration | µs per request (open + finish) |\n|---|---|")
        for name, text in CONFIGURATIONS.items():
            print(f"| {name} | {per_request(text, requests, Path(directory), sink):.1f} |")


if __name__ == "__main__":
    main()
