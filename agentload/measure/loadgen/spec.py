"""What a load run is allowed to do: the validated spec, its limits and the target guard.

Load is only ever sent to this machine (loopback) or to the one API the deployment is
configured with; every other address is refused *before* a socket is opened. Limits come
from settings so an operator, not the caller, decides how hard the system may be pushed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Self
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from agentload.settings import Settings, get_settings

LOOPBACK_NAMES = frozenset({"localhost"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(ValueError):
    """Raised when a load target is neither loopback nor the configured API host:port."""


@dataclass(frozen=True, slots=True)
class LoadLimits:
    """Upper bounds for one run; defaults mirror ``Settings.loadtest_max_*``."""

    max_users: int
    max_rate: float
    max_duration_s: float

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LoadLimits:
        """Limits as configured (``AGENTLOAD_LOADTEST_MAX_*``)."""
        s = settings if settings is not None else get_settings()
        return cls(s.loadtest_max_users, s.loadtest_max_rate, s.loadtest_max_duration_s)


class LoadSpec(BaseModel):
    """One open-model run: ``rate`` requests/s in total, at most ``users`` in flight.

    Bounds are checked against ``LoadLimits`` from the validation context
    (``LoadSpec.with_limits``) or, when none is given, against the settings, so a spec
    that exceeds what the operator allows can never be constructed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(min_length=1)
    users: int = Field(default=10, ge=1, description="virtual users = max in flight = pool size")
    rate: float = Field(default=10.0, gt=0, description="total arrival rate, requests/s")
    duration_s: float = Field(default=10.0, gt=0, description="measured window")
    warmup_s: float = Field(default=0.0, ge=0, description="same load before measuring, not recorded")
    timeout_s: float = Field(default=5.0, gt=0, description="per request")
    scenario: str = "selection_reads"

    @classmethod
    def with_limits(cls, limits: LoadLimits, **fields: object) -> Self:
        """Build a spec validated against explicit limits (tests, step tests, API requests)."""
        return cls.model_validate(fields, context={"limits": limits})

    @model_validator(mode="after")
    def _within_limits(self, info: ValidationInfo) -> Self:
        ctx = info.context if isinstance(info.context, dict) else {}
        limits = ctx.get("limits")
        if not isinstance(limits, LoadLimits):
            limits = LoadLimits.from_settings()
        check_limits(self, limits)
        return self

    @property
    def measured_requests(self) -> int:
        """Requests scheduled inside the measured window (rate x duration, rounded)."""
        return round(self.rate * self.duration_s)

    @property
    def warmup_requests(self) -> int:
        """Requests scheduled during warm-up."""
        return round(self.rate * self.warmup_s)


def check_limits(spec: LoadSpec, limits: LoadLimits) -> None:
    """Raise ``ValueError`` naming the field and the limit it exceeds."""
    if spec.users > limits.max_users:
        raise ValueError(f"users={spec.users} exceeds the limit loadtest_max_users={limits.max_users}")
    if spec.rate > limits.max_rate:
        raise ValueError(f"rate={spec.rate:g} exceeds the limit loadtest_max_rate={limits.max_rate:g}")
    if spec.duration_s > limits.max_duration_s:
        raise ValueError(
            f"duration_s={spec.duration_s:g} exceeds the limit "
            f"loadtest_max_duration_s={limits.max_duration_s:g}"
        )
    if spec.duration_s + spec.warmup_s > limits.max_duration_s:
        raise ValueError(
            f"duration_s + warmup_s = {spec.duration_s + spec.warmup_s:g} exceeds the limit "
            f"loadtest_max_duration_s={limits.max_duration_s:g}"
        )
    if spec.measured_requests < 1:
        raise ValueError(f"rate x duration_s = {spec.rate * spec.duration_s:g} schedules no request")


def _host_port(parts: SplitResult) -> tuple[str, int | None]:
    try:
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"invalid port in {parts.geturl()!r}") from exc
    host = (parts.hostname or "").rstrip(".").lower()
    return host, port if port is not None else _DEFAULT_PORTS.get(parts.scheme)


def is_loopback_host(host: str) -> bool:
    """True for 'localhost' and literal loopback IPs; never resolves names (no DNS)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def check_target(url: str, allowed_base_url: str | None) -> None:
    """Allow loopback hosts or exactly the configured API host:port; raise ``TargetRefused`` otherwise.

    Only literal IPs and 'localhost' count as loopback: any other name could resolve
    anywhere, so it is accepted only when it equals the configured API host and port.
    """
    try:
        parts = urlsplit(url)
        host, port = _host_port(parts)
    except ValueError as exc:  # e.g. an unterminated IPv6 literal or a bad port
        raise TargetRefused(f"refusing load target {url!r}: not a valid URL ({exc})") from exc
    if parts.scheme not in _DEFAULT_PORTS:
        raise TargetRefused(f"refusing load target {url!r}: only http(s) URLs are allowed")
    if not host:
        raise TargetRefused(f"refusing load target {url!r}: no host")
    if is_loopback_host(host):
        return
    if allowed_base_url:
        allowed = urlsplit(allowed_base_url)
        if allowed.scheme == parts.scheme and _host_port(allowed) == (host, port):
            return
    raise TargetRefused(
        f"refusing load target {url!r}: load may only go to loopback (127.0.0.0/8, localhost, ::1) "
        f"or the configured API base URL {allowed_base_url!r} (AGENTLOAD_API_BASE_URL)"
    )
