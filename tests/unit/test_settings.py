"""Settings: code defaults, the AGENTLOAD_ env prefix, and refusal of dev secrets in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentload.settings import DEFAULT_API_TOKEN, DEFAULT_FLOWER_PASSWORD, Settings, get_settings

SECRET = "s3cret-token-of-32-characters-xx"


@pytest.fixture
def env(clean_agentload_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return clean_agentload_env


def test_defaults(env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.env == "development"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.api_token == DEFAULT_API_TOKEN
    assert settings.strategy == "selective"
    assert settings.catalog_path.name == "bmad-method-v6"
    # hard limits above soft ones, long jobs above short ones
    assert settings.task_soft_time_limit_s < settings.task_time_limit_s
    assert settings.long_task_soft_time_limit_s < settings.long_task_time_limit_s
    assert settings.task_time_limit_s < settings.long_task_time_limit_s


def test_env_prefix_is_read(env: pytest.MonkeyPatch) -> None:
    env.setenv("AGENTLOAD_REDIS_URL", "redis://example:6380/2")
    env.setenv("AGENTLOAD_REFRESH_INTERVAL_S", "1.5")
    env.setenv("AGENTLOAD_STRATEGY", "cached")
    env.setenv("REDIS_URL", "redis://unprefixed:1/0")  # no prefix: ignored

    settings = Settings()

    assert settings.redis_url == "redis://example:6380/2"
    assert settings.refresh_interval_s == 1.5
    assert settings.strategy == "cached"


def test_get_settings_is_cached_until_cleared(env: pytest.MonkeyPatch) -> None:
    env.setenv("AGENTLOAD_MAX_PAGE_SIZE", "7")
    assert get_settings().max_page_size == 7
    env.setenv("AGENTLOAD_MAX_PAGE_SIZE", "8")
    assert get_settings().max_page_size == 7
    get_settings.cache_clear()
    assert get_settings().max_page_size == 8


def test_invalid_value_is_rejected(env: pytest.MonkeyPatch) -> None:
    env.setenv("AGENTLOAD_STRATEGY", "everything")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("token", "flower", "message"),
    [
        (DEFAULT_API_TOKEN, "a-real-flower-password", "AGENTLOAD_API_TOKEN"),
        ("short-token", "a-real-flower-password", "AGENTLOAD_API_TOKEN"),
        (SECRET, DEFAULT_FLOWER_PASSWORD, "AGENTLOAD_FLOWER_PASSWORD"),
    ],
    ids=["default-token", "short-token", "default-flower-password"],
)
def test_production_refuses_dev_secrets(env: pytest.MonkeyPatch, token: str, flower: str, message: str) -> None:
    env.setenv("AGENTLOAD_ENV", "production")
    env.setenv("AGENTLOAD_API_TOKEN", token)
    env.setenv("AGENTLOAD_FLOWER_PASSWORD", flower)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_production_accepts_real_secrets(env: pytest.MonkeyPatch) -> None:
    env.setenv("AGENTLOAD_ENV", "production")
    env.setenv("AGENTLOAD_API_TOKEN", SECRET)
    env.setenv("AGENTLOAD_FLOWER_PASSWORD", "a-real-flower-password")
    assert Settings().env == "production"


@pytest.mark.parametrize("env_name", ["development", "test"])
def test_non_production_accepts_dev_secrets(env: pytest.MonkeyPatch, env_name: str) -> None:
    env.setenv("AGENTLOAD_ENV", env_name)
    settings = Settings()
    assert settings.api_token == DEFAULT_API_TOKEN
    assert settings.flower_password == DEFAULT_FLOWER_PASSWORD


def test_given_worker_memory_setting_when_building_celery_config_then_children_are_bounded_by_it(
    env: pytest.MonkeyPatch,
) -> None:
    from workers.config import build_config

    assert build_config(Settings())["worker_max_memory_per_child"] == 2048 * 1024  # KiB
    env.setenv("AGENTLOAD_WORKER_MAX_MEMORY_MB", "512")
    assert build_config(Settings())["worker_max_memory_per_child"] == 512 * 1024
    env.setenv("AGENTLOAD_WORKER_MAX_MEMORY_MB", "8")
    with pytest.raises(ValidationError, match="worker_max_memory_mb"):
        Settings()


def test_given_manifest_settings_when_read_then_they_bound_the_selectors_manifest(env: pytest.MonkeyPatch) -> None:
    from agentload.selection.engine import SelectionConfig

    env.setenv("AGENTLOAD_MANIFEST_BUDGET_TOKENS", "800")
    env.setenv("AGENTLOAD_MANIFEST_CANDIDATES", "5")
    env.setenv("AGENTLOAD_MAX_SELECTED_AGENTS", "4")
    config = SelectionConfig.from_settings(Settings())
    assert (config.manifest_budget_tokens, config.manifest_candidates, config.max_selected_agents) == (800, 5, 4)
    env.setenv("AGENTLOAD_MANIFEST_BUDGET_TOKENS", "50")
    with pytest.raises(ValidationError, match="manifest_budget_tokens"):
        Settings()
