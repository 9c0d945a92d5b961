"""librdkafka client settings from a properties file (`key=value` lines), with `${ENV}`
references for secrets, and their redacted form for the manifest."""

from __future__ import annotations

import os
import re
from pathlib import Path

from replaybench.errors import UsageError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET = re.compile(r"password|secret|sasl\.oauthbearer\.config|ssl\.key\.pem|token|credential",
                     re.IGNORECASE)


class ClientConfigError(UsageError):
    """A client config file that cannot be used."""


def load(path: Path) -> dict[str, str]:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise ClientConfigError(f"{path}: cannot read client config ({exc.strerror})") from None
    config = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            # the line itself is not quoted: a wrong file may hold anything (a password file)
            raise ClientConfigError(f"{path}: line {number}: expected key=value (a librdkafka "
                                    "properties file); is this the right file?")
        config[key.strip()] = _expand(value.strip(), path, number)
    return config


def redact(config: dict) -> dict[str, str]:
    """Secrets replaced; callables (callbacks) named by their type only."""
    return {k: "<redacted>" if _SECRET.search(k) else
            (f"<{type(v).__name__}>" if callable(v) else str(v)) for k, v in config.items()}


def redact_tree(value):
    """A copy of a nested mapping (a workload spec) with every secret-named key's value
    redacted, wherever it sits."""
    if isinstance(value, dict):
        return {k: "<redacted>" if _SECRET.search(str(k)) else redact_tree(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    return value


def redact_override(text: str) -> str:
    """A `--set FIELD=VALUE` with its value redacted when FIELD names a secret."""
    field, sep, _ = text.partition("=")
    return f"{field}=<redacted>" if sep and _SECRET.search(field) else text


# librdkafka settings Java clients spell differently; those not listed are passed through only
# when Java has the same name (security.protocol, ssl.endpoint.identification.algorithm...).
_JAVA_SAME = ("security.protocol", "ssl.endpoint.identification.algorithm", "client.id")
_JAAS = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
         "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
         "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}


def java_properties(config: dict[str, str]) -> dict[str, str]:
    """The Java client properties for a librdkafka config (for Kafka's tools and the Kafka
    Streams application): security and identity only, not tuning."""
    out = {k: str(config[k]) for k in _JAVA_SAME if k in config}
    if "bootstrap.servers" in config:
        out["bootstrap.servers"] = config["bootstrap.servers"]
    mechanism = config.get("sasl.mechanisms") or config.get("sasl.mechanism")
    if mechanism:
        out["sasl.mechanism"] = mechanism
    if mechanism in _JAAS and "sasl.username" in config:
        out["sasl.jaas.config"] = (f'{_JAAS[mechanism]} required username="{config["sasl.username"]}" '
                                   f'password="{config.get("sasl.password", "")}";')
    if "ssl.ca.location" in config:
        out["ssl.truststore.type"] = "PEM"
        out["ssl.truststore.location"] = config["ssl.ca.location"]
    return out


def _expand(value: str, path: Path, number: int) -> str:
    def lookup(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ClientConfigError(f"{path}: line {number}: environment variable {name} is not set")
        return os.environ[name]
    return _ENV.sub(lookup, value)
