"""What a load run may do: spec bounds and the target guard (no request is ever sent here)."""

from __future__ import annotations

import httpx
import pytest

from agentload.measure.loadgen.runner import run_load, run_load_sync
from agentload.measure.loadgen.scenarios import RequestSpec, Scenario
from agentload.measure.loadgen.spec import LoadLimits, LoadSpec, TargetRefused, check_target
from agentload.settings import get_settings

REFUSED = [
    "http://10.0.0.1:8000",
    "http://8.8.8.8",
    "http://example.com",
    "https://example.com:443/api",
    "http://0.0.0.0:8000",
    "http://192.168.1.10:8000",
    "http://localhost.example.com",
    "http://127.0.0.1@example.com/",
    "http://2130706433:8000",
    "ftp://127.0.0.1/",
    "127.0.0.1:8000",
]
ALLOWED = [
    "http://127.0.0.1:8000",
    "http://127.9.9.9",
    "http://localhost:9/x",
    "http://LOCALHOST.:80",
    "http://[::1]:8000",
    "http://[::ffff:127.0.0.1]:8080",
    "https://127.0.0.1",
]


@pytest.mark.parametrize("url", REFUSED)
def test_given_non_local_target_when_checking_then_refused(url: str) -> None:
    with pytest.raises(TargetRefused, match="refusing load target"):
        check_target(url, "http://127.0.0.1:8000")


@pytest.mark.parametrize("url", ALLOWED)
def test_given_loopback_target_when_checking_then_allowed(url: str) -> None:
    check_target(url, None)


def test_given_configured_api_host_when_checking_then_only_that_host_and_port_pass() -> None:
    check_target("http://api:8000/api/v1", "http://api:8000")
    check_target("https://api.internal/x", "https://api.internal")
    for url in ("http://api:8001", "https://api:8000", "http://api2:8000", "http://api.evil:8000"):
        with pytest.raises(TargetRefused):
            check_target(url, "http://api:8000")


@pytest.mark.parametrize("url", ["http://10.0.0.1:8000", "http://example.com", "http://8.8.8.8"])
def test_given_refused_target_when_running_then_nothing_is_sent(url: str) -> None:
    sent: list[httpx.Request] = []
    progress: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)
    scenario = Scenario("s", lambda u, s: RequestSpec("GET", "/", "root"))
    limits = LoadLimits(10, 100, 10)

    with pytest.raises(TargetRefused):
        run_load_sync(LoadSpec.with_limits(limits, base_url=url, rate=10, duration_s=1), scenario,
                      progress_cb=lambda *a: progress.append(a), transport=transport)
    assert sent == [] and progress == []


def test_given_default_limits_when_spec_exceeds_them_then_value_error_names_field_and_limit() -> None:
    with pytest.raises(ValueError, match="users=501 exceeds the limit loadtest_max_users=500"):
        LoadSpec(base_url="http://127.0.0.1:8000", users=501)
    with pytest.raises(ValueError, match="rate=6000 exceeds the limit loadtest_max_rate=5000"):
        LoadSpec(base_url="http://127.0.0.1:8000", rate=6000)
    with pytest.raises(ValueError, match="duration_s=601 exceeds the limit loadtest_max_duration_s=600"):
        LoadSpec(base_url="http://127.0.0.1:8000", duration_s=601)


def test_given_explicit_limits_when_spec_exceeds_them_then_value_error() -> None:
    limits = LoadLimits(max_users=5, max_rate=50, max_duration_s=2)
    base = {"base_url": "http://127.0.0.1:8000", "users": 1}
    with pytest.raises(ValueError, match="users=6"):
        LoadSpec.with_limits(limits, **{**base, "users": 6})
    with pytest.raises(ValueError, match="duration_s \\+ warmup_s = 2.5"):
        LoadSpec.with_limits(limits, **base, duration_s=2, warmup_s=0.5)
    with pytest.raises(ValueError, match="schedules no request"):
        LoadSpec.with_limits(limits, **base, rate=0.1, duration_s=1)
    with pytest.raises(ValueError, match="users"):
        LoadSpec.with_limits(limits, **{**base, "users": 0})
    ok = LoadSpec.with_limits(limits, **{**base, "users": 5}, rate=50, duration_s=1.5, warmup_s=0.5)
    assert ok.measured_requests == 75 and ok.warmup_requests == 25


def test_given_env_limits_when_building_spec_then_settings_bound_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTLOAD_LOADTEST_MAX_USERS", "3")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="loadtest_max_users=3"):
        LoadSpec(base_url="http://127.0.0.1:8000", users=4)
    assert LoadLimits.from_settings().max_users == 3


def test_given_absolute_or_protocol_relative_path_when_building_request_then_rejected() -> None:
    for path in ("http://example.com/x", "//example.com/x", "x/y"):
        with pytest.raises(ValueError, match="relative"):
            RequestSpec("GET", path, "bad")


async def test_given_warmup_when_running_then_warmup_requests_are_not_measured() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"ok"))
    scenario = Scenario("s", lambda u, s: RequestSpec("GET", "/", "root"))
    spec = LoadSpec.with_limits(LoadLimits(10, 1000, 10), base_url="http://127.0.0.1:1", users=4,
                                rate=200, duration_s=0.25, warmup_s=0.1)

    result = await run_load(spec, scenario, transport=transport)

    assert result.warmup_sent == 20
    assert result.sent == result.completed == 50
    assert result.bytes_received == 100
    assert result.spec["warmup_s"] == 0.1
