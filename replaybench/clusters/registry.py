"""The platforms replaybench can start here, by their `--cluster` name. The CLI's choices,
`compat` and `--security` are written from this list: a new platform is a module with a
`Platform` object, added below (docs/platforms.md)."""

from __future__ import annotations

from replaybench.clusters.kafka_platform import LOCAL_DISK, TIERED, TIERED_LOCAL
from replaybench.clusters.platform import Platform
from replaybench.clusters.tansu_platform import TANSU
from replaybench.errors import UsageError

_PLATFORMS: tuple[Platform, ...] = (LOCAL_DISK, TIERED, TIERED_LOCAL, TANSU)


def names() -> list[str]:
    return [p.name for p in _PLATFORMS]


def get(name: str) -> Platform:
    for platform in _PLATFORMS:
        if platform.name == name:
            return platform
    raise UsageError(f"--cluster {name}: unknown platform; known: {', '.join(names())}")


def secured_names() -> list[str]:
    """The platforms --security can start."""
    return [p.name for p in _PLATFORMS if p.security_modes]


def help_text() -> str:
    """The --cluster option's help, one clause per platform."""
    return "; ".join(f"{p.name}: {p.summary}" for p in _PLATFORMS)
