"""The `Unigate-Warnings` header's encoding: always a JSON list, ASCII, and bounded."""

from __future__ import annotations

import json

from proxy.surfaces.warnings import HEADER, MAX_HEADER_BYTES, warnings_header


def test_a_warning_quoting_control_and_non_ascii_characters_stays_one_ascii_header_line() -> None:
    warning = "params.caf\u00e9\r\nX-Injected: 1 is not supported by mistral; it was not sent"
    value = warnings_header([warning])[HEADER]
    assert value.isascii() and "\r" not in value and "\n" not in value
    assert json.loads(value) == [warning]


def test_too_many_warnings_are_cut_to_what_fits_and_counted() -> None:
    warnings = [f"parameter_{n:04d} is not supported by cohere; it was not sent" for n in range(500)]
    value = warnings_header(warnings)[HEADER]
    assert len(value) <= MAX_HEADER_BYTES
    shown = json.loads(value)
    assert shown[:-1] == warnings[: len(shown) - 1]
    assert shown[-1] == f"{500 - (len(shown) - 1)} more warnings not shown"


def test_no_warnings_no_header() -> None:
    assert warnings_header([]) == {}
