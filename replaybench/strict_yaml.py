"""YAML as the files a user writes (workloads, cluster profiles) are read: safe types only, and
no key given twice in one mapping (plain YAML silently keeps the last one)."""

from __future__ import annotations

from pathlib import Path

import yaml


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str):
    """The document; yaml.YAMLError (with .problem and .problem_mark) when it cannot be read."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_mapping(path: Path, what: str, error: type[Exception]) -> dict:
    """A user's YAML file of `field: value` lines (`what` it is, for the message); an empty
    file is an empty mapping. Any problem is `error` with one line naming the file."""
    try:
        data = parse_yaml(Path(path).read_text())
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of field: value in the {what}")
    return data
