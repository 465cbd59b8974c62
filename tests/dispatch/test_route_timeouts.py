from __future__ import annotations

from pathlib import Path

from proxy.gateway import Gateway
from proxy.settings import load_settings


def test_a_route_overrides_only_the_timeouts_it_names(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[dispatch.timeouts]\nidle = 7.0\ntotal = 90.0\n"
        '[[routes]]\nmatch = "team/*"\nprovider = "openai"\nmodel = "gpt-4o-mini"\n'
        "timeouts = { first_byte = 300.0 }\n"
    )
    gateway = Gateway(
        load_settings(config, environ={"UNIGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'u.db'}"})
    )
    resolution = gateway.router.resolve("team/x")
    assert resolution is not None and resolution.route == "team/*"
    timeouts = gateway.dispatcher.timeouts(resolution)
    assert (timeouts.first_byte, timeouts.idle, timeouts.total, timeouts.connect) == (300.0, 7.0, 90.0, 5.0)
    builtin = gateway.router.resolve("openai/gpt-4o-mini")
    assert builtin is not None
    assert gateway.dispatcher.timeouts(builtin).first_byte == 60.0
