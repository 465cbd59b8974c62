"""CPU the ledger costs a request on the embedded SQLite, in-process: the real `Ledger` on a
uvloop, a start row awaited then a final row recorded, request after request, into a table
that already holds rows (a gateway's database is not empty).

    .venv/bin/python -m bench.ledger_commit [--requests 4000] [--rows 50000] [--repeats 3]

Printed per `[database] final_row_hold` setting: process CPU per request (the loop's commits
and the writer thread's checkpoints alike), the commits the loop made per request, and the
ratio to committing every row at once (`final_row_hold = 0`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path

import uvloop

from proxy.accounting.ledger import Ledger, UsageRow
from proxy.accounting.ledger_rows import INSERT, row_values
from proxy.storage import connect

HOLDS = (0.0, 0.05)


def _row(number: int, final: bool) -> UsageRow:
    return UsageRow(
        request_id=f"req_bench{number:012x}",
        key_id="key_bench",
        model="openai/gpt-4o-mini",
        provider="openai",
        status="completed" if final else "started",
        attempts=1 if final else 0,
        input_tokens=12 if final else 0,
        output_tokens=9 if final else 0,
        cached_input_tokens=0,
        reasoning_tokens=0,
        inference_time=0.2 if final else 0.0,
        meter=None,
        cost=0.0000072 if final else None,
        error_code=None,
        started_at=1.7e9 + number,
        finished_at=1.7e9 + number + 0.2 if final else None,
    )


def _filled(path: Path, rows: int) -> None:
    database = connect(f"sqlite:///{path}")
    with database.transaction():
        for number in range(rows):
            database.execute(INSERT, (*row_values(_row(number, True)), "old"))
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()


def measure(hold: float, requests: int, rows: int) -> tuple[float, float]:
    """(CPU µs per request, loop commits per request) for `requests` in a row."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.db"
        _filled(path, rows)
        ledger = Ledger(f"sqlite:///{path}", "NORMAL", hold)
        ledger.start()
        commits = 0
        transaction = ledger._transaction

        def counted(connection: object, batch: list[object]) -> object:
            nonlocal commits
            commits += 1
            return transaction(connection, batch)  # type: ignore[arg-type]

        ledger._transaction = counted  # type: ignore[method-assign, assignment]

        async def run() -> float:
            began = time.process_time()
            for number in range(rows, rows + requests):
                (await ledger.begin(_row(number, False))).check()
                await asyncio.sleep(0)  # the call's await: the iteration that ends a request
                ledger.record(dataclasses.replace(_row(number, True)))
                await asyncio.sleep(0)
            await ledger.flushed()
            return time.process_time() - began

        spent = uvloop.run(run())
        ledger.close()
        return spent / requests * 1e6, commits / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rows", type=int, default=50_000, help="rows in the table before the run")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    results: dict[float, list[tuple[float, float]]] = {hold: [] for hold in HOLDS}
    for _ in range(arguments.repeats):
        for hold in HOLDS:  # interleaved, so a drifting machine moves both alike
            results[hold].append(measure(hold, arguments.requests, arguments.rows))
    base = min(cpu for cpu, _ in results[0.0])
    print(f"{arguments.requests} requests into {arguments.rows} rows, best of {arguments.repeats}")
    print("| final_row_hold | CPU per request | commits per request | ÷ hold 0 |")
    print("|---|---|---|---|")
    for hold, runs in results.items():
        cpu = min(value for value, _ in runs)
        commits = runs[0][1]
        print(f"| {hold:g} s | {cpu:.1f} µs | {commits:.2f} | {cpu / base:.2f} |")


if __name__ == "__main__":
    main()
