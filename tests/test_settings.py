from __future__ import annotations

from pathlib import Path

import pytest

from proxy.settings import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_env_interpolation_and_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[providers.openai]
api_key = "${OPS_KEY}"
base_url = "${OPENAI_URL:-https://api.openai.com/v1}"

[[pools]]
name = "gpu-a"
urls = ["http://10.0.0.5:8000"]
""",
    )
    settings = load_settings(
        path,
        environ={
            "OPS_KEY": "k",
            "UNIGATE_POOL_GPU_A_URLS": "http://a:1, http://b:2",
            "UNIGATE_ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        },
    )
    config = settings.config
    assert config.providers["openai"].api_key == "k"
    assert config.providers["openai"].base_url == "https://api.openai.com/v1"
    assert config.providers["anthropic"].base_url == "http://127.0.0.1:9"
    assert config.pools[0].urls == ("http://a:1", "http://b:2")
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'unigate.db'}"


def test_database_url_override(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    settings = load_settings(path, environ={"UNIGATE_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert settings.database_url == "sqlite:////tmp/x.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[providers.openai]\napi_key = "${MISSING}"', "MISSING"),
        ("[server]\nport = 'x'", "port"),
        ("[server]\nnope = 1", "nope"),
        ('[[routes]]\nmatch = "a"\n', "exactly one"),
        ('[[routes]]\nmatch = "a"\nprovider = "nobody"', "unknown provider"),
        ('[[routes]]\nmatch = "a"\npool = "nowhere"', "unknown pool"),
        ("[providers.acme]\n", "unknown provider"),
        ("not toml [", "config.toml"),
    ],
)
def test_bad_configs_say_why(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), environ={})


def test_repository_config_is_valid() -> None:
    settings = load_settings(Path(__file__).resolve().parents[1] / "config.toml", environ={})
    assert settings.config.prices == {}, "prices come from the catalogue; config.toml shows overrides"
    assert settings.config.catalogue.stale_days == 90
