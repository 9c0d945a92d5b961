"""The `replaybench` command: every command module registers itself on the one group."""

from __future__ import annotations

from replaybench.cli import analysis_commands, cluster_commands, run_commands  # noqa: F401
from replaybench.cli.app import cli


def main() -> None:
    cli()
