"""Media prices: a DALL·E-style table per quality and size, per million characters, per
second of audio; refused at start when negative; multiplied out exactly in Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from proxy.accounting.metering import media_cost_exact
from proxy.routing import catalogue_file
from schemas.chat import Usage
from schemas.config import ModelPrice
from schemas.tasks import MediaUsage

TABLE = ModelPrice(per_image_by={"hd/1024x1792": Decimal("0.12"), "512x512": Decimal("0.018")})
IMAGES = """
version = 1
[models."openai/painter"]
task = "text-to-image"
source = "https://example.com/pricing"
read = 2026-01-02
[models."openai/painter".price.per_image_by]
"hd/1024x1024" = 0.08
"""


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        (MediaUsage(images=3, size="1024x1792", quality="hd"), Decimal("0.36")),
        (MediaUsage(images=2, size="512x512", quality="standard"), Decimal("0.036")),
        (MediaUsage(images=1, size="1024x1792", quality="standard"), None),
    ],
)
def test_an_image_table_prices_by_quality_then_size(measured: MediaUsage, expected: Decimal | None) -> None:
    assert media_cost_exact(measured, Usage(), TABLE) == expected


def test_flat_per_image_characters_and_seconds_multiply_out_exactly() -> None:
    assert media_cost_exact(MediaUsage(images=7), Usage(), ModelPrice(per_image=Decimal("0.011"))) == Decimal(
        "0.077"
    )
    spoken = ModelPrice(per_million_characters=Decimal(15))
    assert media_cost_exact(MediaUsage(characters=4096), Usage(), spoken) == Decimal("0.06144")
    heard = ModelPrice(per_audio_second=Decimal("0.0001"))
    assert media_cost_exact(MediaUsage(audio_seconds=Decimal("61.5")), Usage(), heard) == Decimal("0.00615")
    assert media_cost_exact(MediaUsage(), Usage(), heard) is None


def test_reported_tokens_win_where_the_model_prices_tokens() -> None:
    price = ModelPrice(input=Decimal(5), output=Decimal(40), per_image=Decimal("0.5"))
    usage = Usage(input_tokens=10, output_tokens=4160)
    assert media_cost_exact(MediaUsage(images=1), usage, price) == Decimal("0.16645")


def test_an_image_table_loads_and_a_negative_row_stops_the_gateway() -> None:
    loaded = catalogue_file.parse(IMAGES, "mine.toml").models["openai/painter"].price
    assert loaded is not None and loaded.per_image_by == {"hd/1024x1024": Decimal("0.08")}
    with pytest.raises(catalogue_file.CatalogueError) as refused:
        catalogue_file.parse(IMAGES.replace("= 0.08", "= -0.08"), "mine.toml")
    assert "per_image_by.hd/1024x1024" in str(refused.value)
    with pytest.raises(catalogue_file.CatalogueError) as unpriced:
        catalogue_file.parse(IMAGES.replace('"hd/1024x1024" = 0.08\n', ""), "mine.toml")
    assert "per_image or per_image_by or output" in str(unpriced.value)
