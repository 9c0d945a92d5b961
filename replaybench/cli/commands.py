"""The `replaybench` command: every command module registers itself on the one group."""

from __future__ import annotations

from replaybench.cli import (  # noqa: F401 - each registers its commands
    analysis_commands,
    cluster_commands,
    evaluation_commands,
    run_commands,
)
from replaybench.cli.app import cli


def main() -> None:
    cli()
