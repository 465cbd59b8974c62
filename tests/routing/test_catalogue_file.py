"""The shipped catalogue loads, and bad figures stop the gateway at start, naming the file,
the model and the field; exact costs, long-context tiers, and `unigate catalogue check`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from proxy import cli
from proxy.accounting.metering import token_cost_exact
from proxy.gateway import Gateway
from proxy.routing import catalogue_file
from proxy.routing.catalogue_check import report
from proxy.settings import ConfigError, load_settings
from schemas.chat import Usage
from schemas.config import Config, ModelPrice, PriceTier

GOOD = """
version = 3
[models."openai/good"]
task = "chat"
source = "https://example.com/pricing"
read = 2026-01-02
aliases = ["openai/good-2026-01-01"]
price = { input = 0.15, output = 0.6 }
"""


def test_the_shipped_catalogue_loads_and_prices_a_model_of_every_vendor() -> None:
    catalogue = catalogue_file.load()
    prefixes = {model_id.split("/")[0] for model_id, model in catalogue.models.items() if model.price}
    assert prefixes == {"openai", "anthropic", "google", "cohere", "mistral"}
    assert all(model.source.startswith("https://") for model in catalogue.models.values())


def test_an_alias_and_a_vendor_target_find_the_entry() -> None:
    catalogue = catalogue_file.parse(GOOD, "mine.toml")
    assert catalogue.get("openai/good-2026-01-01") is catalogue.get("openai/good")
    assert catalogue.for_target("openai", "good") is catalogue.get("openai/good")
    assert catalogue.canonical("openai/good-2026-01-01") == "openai/good"


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        (GOOD.replace("input = 0.15", "input = -0.15"), "model 'openai/good': field input"),
        (GOOD.replace("input = 0.15, ", ""), "model 'openai/good': field input: missing"),
        (GOOD.replace('source = "https://example.com/pricing"\n', ""), "`source`"),
        (GOOD.replace("read = 2026-01-02\n", 'read = "soon"\n'), "read"),
        (GOOD.replace('task = "chat"', 'task = "chat"\ncolour = "red"'), "colour"),
        (
            GOOD.replace("output = 0.6 }", "output = 0.6, tiers = [{ above = 0, input = 1 }] }"),
            "field tiers[0].above",
        ),
    ],
)
def test_bad_data_is_refused_naming_file_model_and_field(broken: str, named: str) -> None:
    with pytest.raises(catalogue_file.CatalogueError) as refused:
        catalogue_file.parse(broken, "mine.toml")
    message = str(refused.value)
    assert message.startswith("mine.toml")
    assert named in message
    assert "openai/good" in message


def test_a_bad_catalogue_file_stops_the_gateway_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "models.toml"
    bad.write_text(GOOD.replace("input = 0.15", "input = -1"))
    config = tmp_path / "config.toml"
    config.write_text(f'[catalogue]\nfile = "{bad}"\n')
    with pytest.raises(ConfigError, match=r"models\.toml: model 'openai/good': field input"):
        load_settings(config, environ={})


def test_a_bad_prices_override_fails_at_start_naming_file_model_and_field(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[prices."anthropic/claude-haiku-4-5"]\ninput = 1.0\noutput = -5.0\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(config, environ={})
    assert str(config) in str(refused.value)
    assert "anthropic/claude-haiku-4-5" in str(refused.value)
    assert "field output" in str(refused.value)
    config.write_text('[prices."anthropic/claude-haiku-4-5"]\ninput = 1.0\n')
    with pytest.raises(ConfigError, match="field output: missing"):
        load_settings(config, environ={})


def test_an_unknown_field_in_an_override_names_the_model(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[prices."openai/gpt-4o"]\ninput = 1.0\noutput = 2.0\ncached = 0.5\n')
    with pytest.raises(
        ConfigError, match=r"\[prices.'openai/gpt-4o'\] Object contains unknown field `cached`"
    ):
        load_settings(config, environ={})


def test_a_gateway_built_from_settings_prices_from_the_catalogue(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    settings = load_settings(config, environ={"UNIGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"})
    gateway = Gateway(settings)
    meter = gateway.meter
    price = meter.price_for("anthropic/claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5-20251001")
    assert price is not None and price.input == Decimal(1)
    gateway.ledger.close()
    gateway.keys.close()


def test_costs_are_exact_where_floats_would_drift() -> None:
    price = ModelPrice(input=Decimal("0.1"), output=Decimal("0.2"), cached_input=Decimal("0.0375"))
    usage = Usage(input_tokens=3, output_tokens=3, cached_input_tokens=1)
    assert token_cost_exact(usage, price) == Decimal("0.0000008375")
    assert (2 * 0.1 + 0.0375 + 3 * 0.2) / 1e6 != 0.0000008375  # what floats would give


def test_a_long_context_tier_bills_the_whole_call_at_its_prices() -> None:
    price = ModelPrice(
        input=Decimal(3),
        output=Decimal(15),
        tiers=(PriceTier(above=200_000, input=Decimal(6), output=Decimal("22.5")),),
    )
    short = token_cost_exact(Usage(input_tokens=200_000, output_tokens=1000), price)
    long = token_cost_exact(Usage(input_tokens=200_001, output_tokens=1000), price)
    assert short == (200_000 * 3 + 1000 * 15) / Decimal(1_000_000)
    assert long == (200_001 * 6 + 1000 * Decimal("22.5")) / Decimal(1_000_000)


def test_an_embedding_price_bills_input_alone_and_a_chat_answer_without_output_price_is_unpriced() -> None:
    embedding = ModelPrice(input=Decimal("0.02"))
    assert token_cost_exact(Usage(input_tokens=500), embedding) == Decimal("0.00001")
    assert token_cost_exact(Usage(input_tokens=500, output_tokens=1), embedding) is None


def test_catalogue_check_lists_priced_unpriced_and_stale() -> None:
    text = GOOD + (
        '[models."mistral/unpriced"]\ntask = "chat"\nsource = "https://example.com/m"\nread = 2025-01-01\n'
    )
    catalogue = catalogue_file.parse(text, "mine.toml")
    config = Config(prices={"openai/extra": ModelPrice(input=Decimal(1), output=Decimal(2))})
    lines, complete = report(catalogue, config, date(2026, 2, 1), stale_days=90)
    joined = "\n".join(lines)
    assert not complete
    assert "catalogue: mine.toml (version 3, 2 models)" in joined
    priced = joined[joined.index("priced (2):") : joined.index("unpriced")]
    assert "openai/good" in priced and "in 0.15 / out 0.6 per 1M tokens" in priced
    assert "openai/extra" in priced and "(not catalogued)" in priced
    unpriced = joined[joined.index("unpriced (1)") : joined.index("stale")]
    assert "mistral/unpriced" in unpriced
    stale = joined[joined.index("stale (1)") :]
    assert "mistral/unpriced" in stale and "396 days ago" in stale and "openai/good" not in stale


def test_unigate_catalogue_check_prints_the_shipped_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[prices."openai/gpt-4o-mini"]\ninput = 1\noutput = 2\n')
    cli.main(["catalogue", "check", "--config", str(config), "--stale-days", "100000"])
    out = capsys.readouterr().out
    assert "stale (0)" in out
    assert "openai/gpt-4o-mini" in out and "([prices] override)" in out
    assert "anthropic/claude-sonnet-4-5" in out and "above 200,000 input tokens" in out
    old = tmp_path / "old.toml"
    old.write_text(GOOD.replace("read = 2026-01-02", "read = 2001-01-02"))
    config.write_text(f'[catalogue]\nfile = "{old}"\n')
    with pytest.raises(SystemExit) as stale:
        cli.main(["catalogue", "check", "--config", str(config), "--strict"])
    assert stale.value.code == 1
    assert "stale (1): read more than 90 days ago" in capsys.readouterr().out
