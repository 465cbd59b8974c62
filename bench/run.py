"""unigate against the floor, in one run: CPU per request, added latency, throughput.

    .venv/bin/python -m bench.run [--seconds 3] [--rounds 3]
        [--phases json:1,json:64,stream:1,open:50] [--variants unigate,obs-off,tracing]
        [--tree before=/path/to/an/older/checkout] [--against obs-off] [--no-scaling]
        [--chunks 20] [--database-url URL | --database-url pgserver] [--redis-url URL]
        [--key-options "--budget 1e6"]

Every target runs as its own process on loopback, all at once, and the phases are
interleaved round by round (the order rotating), so a machine whose speed drifts moves
every column alike and the ratios stay meaningful:
- `direct`: the load generator straight at the fake OpenAI (bench/fake_upstream.py);
- `pass-through`: a bare Litestar + aiohttp relay to the same fake (bench/passthrough.py),
  the floor a Python gateway on this stack pays;
- one `unigate serve` (one worker) per `--variants` configuration (bench/targets.py:
  `unigate` is the default, metrics and JSON access logs on, tracing off; `obs-off`;
  `tracing`), and per `--tree` (the default configuration run from another checkout,
  for a before/after A/B of commits).

Phases: `json:N` / `stream:N` drive N keep-alive connections in a closed loop (a streamed
answer has `--chunks` events); `open:R` starts R non-streamed requests a second whatever
the answers do (a lone request's wake-ups, what most deployments see most of the day).
Printed per phase and target: p50/p99, added p50 and added time to first byte (against
`direct` in the same round), requests/s, CPU per request from /proc (all threads, the
ledger writer included; medians over the rounds, with their range), the ratios to the
pass-through and to the `--against` gateway (medians of the per-round ratios), and the
1-minute load average while it ran. Then idle RSS, `--workers 2` scaling at the highest
`json:` concurrency, and each gateway against issue 17's targets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from bench import load
from bench.targets import (
    ROOT,
    VARIANTS,
    Target,
    commit_of,
    rss_mib,
    start_gateway,
    start_passthrough,
    start_upstream,
)

BODY = {
    "messages": [{"role": "user", "content": "Hello my name is Bob and I like to eat"}],
    "params": {"max_tokens": 100},
}
DIRECT_BODY = {"model": "gpt-4o-mini", "messages": BODY["messages"], "max_completion_tokens": 100}
TARGETS = (
    ("CPU per request, json, 64 connections", "cpu", "json:64", 0.8, "ms"),
    ("CPU per request, json, 1 connection", "cpu", "json:1", 1.0, "ms"),
    ("added p50, json, 1 connection", "added", "json:1", 0.8, "ms"),
    ("added time to first byte, stream, 1 connection", "ttfb", "stream:1", 1.0, "ms"),
    ("CPU per streamed request, 1 connection", "cpu", "stream:1", 1.2, "ms"),
    ("CPU per request at a steady 50 requests/s", "cpu", "open:50", 1.5, "ms"),
)
"""Issue 17's targets: (what, figure, phase, at most, unit)."""


@dataclass
class Cell:
    """One target's figures in one round of one phase."""

    result: load.Result
    cpu_ms: float
    load: float


def _payloads(streamed: bool) -> tuple[bytes, bytes]:
    return (
        json.dumps({**BODY, "stream": streamed}).encode(),
        json.dumps({**DIRECT_BODY, "stream": streamed}).encode(),
    )


def measure(target: Target, phase: str, seconds: float) -> Cell:
    kind, _, amount = phase.partition(":")
    native, direct = _payloads(kind == "stream")
    payload = native if target.native else direct
    before = target.cpu()
    if kind == "open":
        result = uvloop.run(load.opened(target.url, payload, target.headers, float(amount), seconds))
    else:
        result = uvloop.run(load.closed(target.url, payload, target.headers, int(amount), seconds))
    cpu = (target.cpu() - before) / max(result.requests, 1) * 1000
    return Cell(result, cpu, os.getloadavg()[0])


def interleaved(
    targets: list[Target], phases: list[str], rounds: int, seconds: float
) -> dict[str, dict[str, list[Cell]]]:
    cells: dict[str, dict[str, list[Cell]]] = defaultdict(lambda: defaultdict(list))
    for phase in phases:
        for turn in range(rounds):
            order = targets[turn % len(targets) :] + targets[: turn % len(targets)]
            for target in order:
                cells[phase][target.name].append(measure(target, phase, seconds))
            print(f"  {phase} round {turn + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return cells


def _median(values: list[float]) -> float:
    values = [value for value in values if value == value]  # drop nan
    return statistics.median(values) if values else float("nan")


@dataclass
class Summary:
    p50: float
    p99: float
    added: float
    ttfb: float
    rps: float
    cpu: float
    cpu_low: float
    cpu_high: float
    load: float
    errors: int


def summarise(cells: list[Cell], direct: list[Cell]) -> Summary:
    return Summary(
        p50=_median([cell.result.p(0.5) for cell in cells]),
        p99=_median([cell.result.p(0.99) for cell in cells]),
        added=_median(
            [cell.result.p(0.5) - base.result.p(0.5) for cell, base in zip(cells, direct, strict=True)]
        ),
        ttfb=_median(
            [
                cell.result.p(0.5, True) - base.result.p(0.5, True)
                for cell, base in zip(cells, direct, strict=True)
            ]
        ),
        rps=_median([cell.result.rps for cell in cells]),
        cpu=_median([cell.cpu_ms for cell in cells]),
        cpu_low=min(cell.cpu_ms for cell in cells),
        cpu_high=max(cell.cpu_ms for cell in cells),
        load=_median([cell.load for cell in cells]),
        errors=sum(cell.result.errors for cell in cells),
    )


def paired_ratio(cells: list[Cell], base: list[Cell]) -> float:
    """The median over rounds of this target's CPU per request ÷ the base's in the same round."""
    return _median(
        [cell.cpu_ms / other.cpu_ms for cell, other in zip(cells, base, strict=True) if other.cpu_ms]
    )


def _table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def report(
    targets: list[Target],
    cells: dict[str, dict[str, list[Cell]]],
    against: str | None,
    idle: dict[str, float],
    scaling: tuple[dict[str, list[Cell]], str] | None,
) -> dict[str, dict[str, Summary]]:
    summaries: dict[str, dict[str, Summary]] = {}
    for phase, by_target in cells.items():
        direct = by_target["direct"]
        summaries[phase] = {name: summarise(target_cells, direct) for name, target_cells in by_target.items()}
        floor = summaries[phase]["pass-through"]
        print(f"### {phase}\n")
        header = [
            "target",
            "p50",
            "p99",
            "added p50",
            "added TTFB p50",
            "rps",
            "CPU/req (range)",
            "CPU ÷ pass",
        ]
        header += ["added p50 ÷ pass", *([f"CPU ÷ {against}"] if against else []), "load 1m", "errors"]
        rows = []
        for target in targets:
            s = summaries[phase][target.name]
            row = [
                target.name + (f" ({target.commit})" if target.commit else ""),
                f"{s.p50:.2f} ms",
                f"{s.p99:.2f} ms",
                f"{s.added:.2f} ms" if target.name != "direct" else "—",
                f"{s.ttfb:.2f} ms" if target.name != "direct" else "—",
                f"{s.rps:.0f}",
                f"{s.cpu:.2f} ms ({s.cpu_low:.2f}–{s.cpu_high:.2f})",
                f"{paired_ratio(by_target[target.name], by_target['pass-through']):.2f}",
                f"{s.added / floor.added:.1f}" if target.name != "direct" and floor.added > 0 else "—",
            ]
            if against:
                row.append(f"{paired_ratio(by_target[target.name], by_target[against]):.3f}")
            rows.append([*row, f"{s.load:.2f}", str(s.errors)])
        _table(header, rows)
    print("### idle RSS\n")
    _table(["target", "RSS"], [[name, f"{mib:.1f} MiB"] for name, mib in idle.items()])
    if scaling is not None:
        scaled, phase = scaling
        one, two = scaled["unigate"], scaled["unigate --workers 2"]
        ratio = _median([b.result.rps / a.result.rps for a, b in zip(one, two, strict=True)])
        print(f"### `--workers 2` at {phase}\n")
        _table(
            ["gateway", "rps", "CPU/req", "load 1m"],
            [
                [
                    name,
                    f"{_median([cell.result.rps for cell in runs]):.0f}",
                    f"{_median([cell.cpu_ms for cell in runs]):.2f} ms",
                    f"{_median([cell.load for cell in runs]):.2f}",
                ]
                for name, runs in scaled.items()
            ],
        )
        print(f"throughput ratio, 2 workers ÷ 1 (median of rounds): {ratio:.2f} (target ≥ 1.8)\n")
        summaries["scaling"] = {"ratio": Summary(0, 0, 0, 0, ratio, 0, 0, 0, 0, 0)}
    gateways = [target for target in targets if target.native]
    for gateway in gateways:
        print(f"### {gateway.name} against issue 17's targets\n")
        rows = []
        for what, figure, phase, goal, unit in TARGETS:
            if phase not in summaries:
                continue
            value = getattr(summaries[phase][gateway.name], figure)
            rows.append(
                [what, f"≤ {goal} {unit}", f"{value:.2f} {unit}", "met" if value <= goal else "not met"]
            )
        if gateway.name in idle:
            mib = idle[gateway.name]
            rows.append(["idle RSS", "≤ 100 MiB", f"{mib:.1f} MiB", "met" if mib <= 100 else "not met"])
        if scaling is not None and gateway.name == "unigate":
            ratio = summaries["scaling"]["ratio"].rps
            rows.append(
                ["`--workers 2` throughput", "≥ 1.8×", f"{ratio:.2f}×", "met" if ratio >= 1.8 else "not met"]
            )
        _table(["target", "goal", "value", "verdict"], rows)
    return summaries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="per target, phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--phases", default="json:1,json:64,stream:1,open:50")
    parser.add_argument("--variants", default="unigate,obs-off", help=f"of {', '.join(VARIANTS)}")
    parser.add_argument(
        "--tree", action="append", default=[], help="NAME=PATH: the default config from that checkout"
    )
    parser.add_argument(
        "--against", help="print each target's CPU ratio to this gateway (default: obs-off if run)"
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip the `--workers 2` phase")
    parser.add_argument("--chunks", type=int, default=20, help="events in a streamed answer")
    parser.add_argument("--database-url", help="default: SQLite per gateway; 'pgserver' starts a Postgres")
    parser.add_argument("--redis-url", help="per-key limits in this Redis")
    parser.add_argument("--key-options", default="", help="more `unigate keys create` flags")
    parser.add_argument("--json", type=Path, help="also write the medians here")
    arguments = parser.parse_args()
    phases = arguments.phases.split(",")
    variants = [name for name in arguments.variants.split(",") if name]
    against = arguments.against or ("obs-off" if "obs-off" in variants else None)

    work = Path(tempfile.mkdtemp(prefix="unigate-bench-"))
    upstream, upstream_port = start_upstream(arguments.chunks)
    started: list[Target] = []
    postgres = None
    try:
        wait_for_port(upstream, upstream_port)
        extra = ""
        key_options = arguments.key_options.split()
        if arguments.redis_url:
            extra = f'[limits]\nbackend = "redis"\nredis_url = "{arguments.redis_url}"\n'
            key_options += ["--rpm", "100000000", "--tpm", "1000000000", "--concurrency", "100000"]
        database_url = arguments.database_url
        if database_url == "pgserver":
            import pgserver

            postgres = pgserver.get_server(work / "postgres", cleanup_mode="stop")
            database_url = postgres.get_uri()
        direct = Target(
            "direct",
            f"http://127.0.0.1:{upstream_port}/v1/chat/completions",
            {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"},
            native=False,
            process=upstream,
        )
        started.append(start_passthrough(upstream_port))
        common = {"database_url": database_url, "key_options": key_options}
        for name in variants:
            started.append(start_gateway(name, VARIANTS[name] + extra, work, upstream_port, **common))  # type: ignore[arg-type]
        for spec in arguments.tree:
            name, _, path = spec.partition("=")
            started.append(
                start_gateway(name, extra, work, upstream_port, tree=Path(path).resolve(), **common)
            )  # type: ignore[arg-type]
        targets = [direct, *started]
        print(
            f"unigate bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit_of(ROOT)}, {os.cpu_count()} cores, "
            f"{arguments.seconds:g} s × {arguments.rounds} rounds, load {os.getloadavg()}",
        )
        native, _ = _payloads(False)
        for target in started:  # warm up (first-use imports, connections), then idle memory
            uvloop.run(
                load.closed(
                    target.url, native if target.native else _payloads(False)[1], target.headers, 4, 1.0
                )
            )
        time.sleep(1.0)
        idle = {target.name: rss_mib(target.pid) for target in started if target.pid is not None}
        cells = interleaved(targets, phases, arguments.rounds, arguments.seconds)
        scaling = None
        json_levels = [phase for phase in phases if phase.startswith("json:")]
        if not arguments.no_scaling and "unigate" in variants and json_levels:
            phase = max(json_levels, key=lambda p: int(p.partition(":")[2]))
            two = start_gateway(
                "unigate-w2", VARIANTS["unigate"] + extra, work, upstream_port, workers=2, **common
            )  # type: ignore[arg-type]
            started.append(two)
            uvloop.run(load.closed(two.url, native, two.headers, 8, 1.0))
            one = next(target for target in targets if target.name == "unigate")
            two.name = "unigate --workers 2"
            scaled = interleaved([one, two], [phase], arguments.rounds, arguments.seconds)
            scaling = (scaled[phase], phase)
        print(f"\nload at the end: {os.getloadavg()}\n")
        summaries = report(targets, cells, against, idle, scaling)
        if arguments.json:
            arguments.json.write_text(
                json.dumps(
                    {phase: {n: vars(s) for n, s in by.items()} for phase, by in summaries.items()}, indent=1
                )
            )
    finally:
        for target in started:
            target.stop()
        upstream.terminate()
        upstream.wait(10)
        if postgres is not None:
            postgres.cleanup()


def wait_for_port(process: subprocess.Popen[bytes], port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the fake upstream exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the fake upstream did not come up")


if __name__ == "__main__":
    main()
