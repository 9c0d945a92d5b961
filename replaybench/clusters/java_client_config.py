"""A librdkafka client config (what every Python role uses) as the Java client's settings, for
the JVM processes replaybench starts against a cluster (MirrorMaker 2).

Only what a cluster's access needs is translated: the protocol, a SASL login and a CA file.
Anything else in the config is a librdkafka tuning knob the JVM has no use for.
"""

from __future__ import annotations

from replaybench.errors import UsageError

_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
_PASSED = ("bootstrap.servers", "security.protocol")


def to_java(config: dict[str, str], where: str) -> dict[str, str]:
    """The Java client settings for `config`; `where` names it in an error (e.g. "target")."""
    java = {k: str(config[k]) for k in _PASSED if k in config}
    if "security.protocol" in java:
        java["security.protocol"] = java["security.protocol"].upper()
    mechanism = config.get("sasl.mechanism") or config.get("sasl.mechanisms")
    if mechanism:
        java["sasl.mechanism"] = str(mechanism).upper()
        java["sasl.jaas.config"] = _jaas(str(mechanism).upper(), config, where)
    if "ssl.ca.location" in config:   # Java reads a PEM file as a trust store itself
        java["ssl.truststore.type"] = "PEM"
        java["ssl.truststore.location"] = str(config["ssl.ca.location"])
    if config.get("ssl.endpoint.identification.algorithm") == "none":
        java["ssl.endpoint.identification.algorithm"] = ""
    return java


def _jaas(mechanism: str, config: dict[str, str], where: str) -> str:
    module = _SCRAM if mechanism.startswith("SCRAM") else _PLAIN if mechanism == "PLAIN" else None
    if module is None:
        raise UsageError(f"{where}: sasl.mechanism {mechanism} cannot be passed to the Java "
                         "clients here (SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN)")
    user, password = config.get("sasl.username"), config.get("sasl.password")
    if not user or password is None:
        raise UsageError(f"{where}: sasl.mechanism {mechanism} without sasl.username and "
                         "sasl.password")
    return f'{module} required username="{_quoted(user)}" password="{_quoted(password)}";'


def _quoted(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"')
