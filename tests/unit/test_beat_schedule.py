"""The beat schedule is built from settings and every entry expires within its interval."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agentload.settings import Settings
from agentload.tasknames import ROUTES, TaskName
from beat_schedule import build_schedule


@pytest.fixture
def settings(clean_agentload_env: pytest.MonkeyPatch) -> Settings:
    return Settings(refresh_interval_s=7, stats_flush_interval_s=11, metrics_flush_interval_s=13)


def test_entries_and_intervals_come_from_settings(settings: Settings) -> None:
    schedule = build_schedule(settings)

    by_task = {entry["task"]: entry for entry in schedule.values()}
    assert set(by_task) == {
        TaskName.REFRESH.value,
        TaskName.FLUSH_CACHE_STATS.value,
        TaskName.FLUSH_SELECTION_EVENTS.value,
    }
    assert by_task[TaskName.REFRESH.value]["schedule"] == timedelta(seconds=7)
    assert by_task[TaskName.FLUSH_CACHE_STATS.value]["schedule"] == timedelta(seconds=11)
    assert by_task[TaskName.FLUSH_SELECTION_EVENTS.value]["schedule"] == timedelta(seconds=13)


def test_every_entry_expires_within_its_interval(settings: Settings) -> None:
    for name, entry in build_schedule(settings).items():
        expires = entry["options"]["expires"]
        assert expires is not None, name
        assert 0 < expires <= entry["schedule"].total_seconds(), name


def test_entries_use_registered_names_and_their_routed_queue(settings: Settings) -> None:
    for entry in build_schedule(settings).values():
        name = TaskName(entry["task"])  # raises for a name that is not a TaskName
        assert entry["options"]["queue"] == ROUTES[name].value


def test_refresh_runs_on_the_catalog_queue_with_expires_equal_to_interval(settings: Settings) -> None:
    refresh = build_schedule(settings)["refresh-catalog"]
    assert refresh["options"] == {"queue": "catalog", "expires": 7}


def test_default_settings_schedule(clean_agentload_env: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    refresh = build_schedule(defaults)["refresh-catalog"]
    assert refresh["schedule"].total_seconds() == defaults.refresh_interval_s
