"""User-facing errors: each carries one line that names the problem.

Two kinds, so that exit codes stay true: a UsageError is input or an environment the user must
fix before anything can be measured (exit 2); a RunError is a run that started and failed
(exit 1, with what it measured written). Every error replaybench raises is one of the two.
"""


class ReplaybenchError(Exception):
    """Printed as one line, no traceback. Raise a UsageError or a RunError, not this."""


class UsageError(ReplaybenchError):
    """Bad input (a file, a field, a value, an option) or an environment that cannot serve the
    run (no JDK, a cluster that cannot be reached): nothing was measured."""


class RunError(ReplaybenchError):
    """The run started and could not finish; what it measured is still written."""


class ClusterError(UsageError):
    """A local cluster could not be started, reached or controlled."""


class BrokerDied(ClusterError):
    """A broker process exited on its own; the message carries the tail of its log."""
