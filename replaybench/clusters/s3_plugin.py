"""replaybench's S3 RemoteStorageManager (replaybench/jvm/s3rsm/*.java): Kafka's remote tier
on the S3 API, compiled at first use against the broker's kafka-storage-api and the AWS SDK v2
S3 client from Maven Central, cached by versions and source hash.

The broker loads it in a class loader of its own (remote.log.storage.manager.class.path), so
that the SDK's libraries never meet the broker's. Its settings are rsm.config.* properties;
the credentials go in a file beside the cluster, not in the broker's properties."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from replaybench.clusters import jvm_build
from replaybench.clusters.artifacts import (
    AWS_SDK_VERSION,
    KAFKA_VERSION,
    find_java,
    kafka_artifacts,
    s3_storage_artifacts,
)
from replaybench.clusters.security_material import write_secret

SOURCES = Path(__file__).resolve().parent.parent / "jvm" / "s3rsm"
CLASS_NAME = "replaybench.rsm.S3RemoteStorageManager"


@dataclass(frozen=True)
class S3Plugin:
    classes: Path    #: the compiled plugin
    sdk: Path        #: the AWS SDK's jars
    kafka: Path      #: the broker's jars it was compiled against

    @property
    def class_path(self) -> str:
        """The plugin's own class path, as the broker's class loader for it takes it."""
        return f"{self.classes}:{self.sdk}/*"


@dataclass(frozen=True)
class Bucket:
    """Where the remote tier lives, and the file holding the keys to it."""

    endpoint: str
    name: str
    region: str
    credentials_file: Path


def build(cache_dir: Path, version: str = KAFKA_VERSION) -> S3Plugin:
    """The compiled plugin, building it on first use (~5 s; the SDK's jars are ~13 MB)."""
    java = find_java()
    kafka = kafka_artifacts(version).fetch(cache_dir)
    sdk = s3_storage_artifacts().fetch(cache_dir)
    sources = sorted(SOURCES.glob("*.java"))
    classes = jvm_build.compiled(
        java.path, f"{kafka}/*:{sdk}/*", sources,
        cache_dir / "s3-rsm" / f"{version}-{AWS_SDK_VERSION}-{jvm_build.source_digest(sources)}",
        "the S3 remote storage plugin")
    return S3Plugin(classes, sdk, kafka)


def write_credentials(path: Path, access_key: str, secret_key: str) -> Path:
    """The plugin's credentials file (owner-only), as rsm.config.s3.credentials.file reads it."""
    write_secret(path, f"aws.access.key.id={access_key}\naws.secret.access.key={secret_key}\n"
                 .encode())
    return path


def broker_settings(plugin: S3Plugin, bucket: Bucket) -> dict[str, str]:
    """The broker properties that make this plugin its remote tier, on that bucket."""
    return {
        "remote.log.storage.manager.class.name": CLASS_NAME,
        "remote.log.storage.manager.class.path": plugin.class_path,
        "rsm.config.s3.endpoint": bucket.endpoint,
        "rsm.config.s3.bucket": bucket.name,
        "rsm.config.s3.region": bucket.region,
        "rsm.config.s3.path.style": "true",
        "rsm.config.s3.credentials.file": str(bucket.credentials_file),
    }
