"""The command group every command hangs on, and what several commands share: the one-line
error handling, exit codes, output-file checks and the workload options."""

from __future__ import annotations

import os
from pathlib import Path

import click

from replaybench.clusters import registry, security_material
from replaybench.engine import workload
from replaybench.errors import ReplaybenchError, RunError, UsageError

EXIT_RUN_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class Group(click.Group):
    """Turns a ReplaybenchError into one line on stderr, not a traceback: exit 1 for a run
    that failed (RunError), 2 for input or an environment to fix (UsageError)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ReplaybenchError as exc:
            click.echo(f"replaybench: {exc}", err=True)
            ctx.exit(EXIT_RUN_FAILED if isinstance(exc, RunError) else EXIT_USER_ERROR)


def output_file(ctx: click.Context, param: click.Parameter, out: Path | None) -> Path | None:
    """An output file's folder must exist and be writable: refused before any work is done."""
    if out is None:
        return None
    folder = out.parent
    if not folder.is_dir():
        raise UsageError(f"{out}: cannot write: folder {folder} does not exist")
    if (out.exists() and out.is_dir()) or not os.access(folder, os.W_OK):
        raise UsageError(f"{out}: cannot write: "
                         f"{'is a folder' if out.is_dir() else 'folder is not writable'}")
    return out


@click.group(cls=Group)
@click.version_option(package_name="replaybench")
def cli() -> None:
    """Restore/replay benchmarks for Kafka-compatible clusters."""


WORKLOADS_DIR = workload.SHIPPED_DIR
workload_path = workload.path_for


set_option = click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
                          help="Override a field, e.g. --set storm.readers=8.")
def platform_option(what: str):
    """--cluster, its choices and help written from the platform registry."""
    return click.option("--cluster", "platform_name", type=click.Choice(registry.names()),
                        default="kafka", show_default=True,
                        help=f"The embedded cluster to start {what}: {registry.help_text()}.")


security_option = click.option(
    "--security", type=click.Choice(list(security_material.MODES)),
    help=f"Secure the embedded cluster ({', '.join(registry.secured_names())}): TLS listeners "
         "(tls), plus SCRAM logins and least-privilege ACLs per role (sasl_ssl).")
scale_option = click.option("--scale", type=click.Choice(list(workload.SCALES)),
                            default="default", show_default=True,
                            help="Scale sizes and durations (smoke: under a minute).")
