"""The command line run in the test's own process (click's CliRunner): the same commands,
options, exit codes and one-line errors as `python -m replaybench`, without starting Python
and importing replaybench for each call (0.4 s each). Modules that use it keep a call or two
through a real process, for the way a shell sees it."""

from __future__ import annotations

from dataclasses import dataclass

from click.testing import CliRunner

from replaybench.cli.commands import cli


@dataclass(frozen=True)
class Result:
    """What subprocess.run would have given: exit code and the two streams."""
    returncode: int
    stdout: str
    stderr: str


def run(*args: str) -> Result:
    """`replaybench ARGS...`; an exception no command turned into one line propagates (as
    the traceback a user would see)."""
    result = CliRunner().invoke(cli, list(args), prog_name="replaybench",
                                catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)
