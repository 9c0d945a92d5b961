"""User-facing errors: each carries one line that names the problem."""


class ReplaybenchError(Exception):
    """A mistake or an environment problem the user can fix; printed as one line, no traceback."""


class ClusterError(ReplaybenchError):
    """A local cluster could not be started, reached or controlled."""


class BrokerDied(ClusterError):
    """A broker process exited on its own; the message carries the tail of its log."""
