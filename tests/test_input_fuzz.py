"""Property-based: whatever a user writes in a workload file, a `--set` or a cluster profile, the
result is a valid spec or one line naming the problem (exit 2), never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replaybench.clusters import profile
from replaybench.engine import workload
from replaybench.errors import UsageError

SHIPPED = Path(__file__).resolve().parent.parent / "workloads"
FIELDS = ["version", "name", "description", "topic", "seed", "live", "storm", "phases", "faults",
          "cluster", "partitions", "keys", "records", "value_bytes", "readers", "rate_per_s",
          "tombstone_ratio", "baseline_s", "action", "broker", "at_s", "configs", "x"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(FIELDS), inner, max_size=6)),
    max_leaves=25)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


def _one_line_or_spec(call) -> None:
    try:
        call()
    except UsageError as exc:
        text = str(exc)
        assert text and "\n" not in text and "Traceback" not in text


@FUZZ
@given(doc=documents)
def test_any_workload_document_is_a_spec_or_one_line(tmp_path, doc):
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    _one_line_or_spec(lambda: workload.load(path))


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(["topic", "seed", "live", "storm", "phases"]),
                           st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=4),
                           max_size=3))
def test_mutated_shipped_workloads_are_a_spec_or_one_line(tmp_path, doc):
    base = yaml.safe_load((SHIPPED / "restore-storm.yaml").read_text())
    for section, fields in doc.items():
        base.setdefault(section, {}).update(fields)
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(base))
    _one_line_or_spec(lambda: workload.load(path, [], "smoke"))


@FUZZ
@given(field=st.sampled_from(["storm.readers", "seed.records", "live.rate_per_s", "phases",
                              "storm.consumer_config.fetch.max.bytes", "name", "faults",
                              "topic.configs", "nope.x", "storm.readers.x", ""]),
       value=st.text(max_size=20))
def test_any_set_value_is_a_spec_or_one_line(field, value):
    _one_line_or_spec(lambda: workload.load(SHIPPED / "restore-storm.yaml", [f"{field}={value}"]))


@FUZZ
@given(doc=st.one_of(documents, st.dictionaries(
    st.sampled_from(["version", "name", "bootstrap", "client_config", "labels", "hooks"]),
    st.one_of(scalars, st.dictionaries(st.text(max_size=8), scalars, max_size=3)), max_size=6)))
def test_any_profile_is_loaded_or_one_line(tmp_path, doc):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    _one_line_or_spec(lambda: profile.load(path))


def test_the_command_line_gives_exit_2_and_one_line(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("version: 1\nname: x\nseed: {keys: [1, {a: .nan}]}\n")
    run = subprocess.run([sys.executable, "-m", "replaybench", "workloads", "validate", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr


@pytest.mark.parametrize("args", [
    ["report", "{run}", "-o", "{tmp}/no-such-folder/r.html"],
    ["export-hdr", "{run}", "-o", "{tmp}/no-such-folder/p.hlog"],
    ["workloads", "import-omb", "{run}", "-o", "{tmp}"],
])
def test_an_output_file_that_cannot_be_written_is_one_line_before_any_work(tmp_path, args):
    """The folder of -o is checked first: no traceback, and nothing else is read or written."""
    argv = [a.format(run=tmp_path / "no-run", tmp=tmp_path) for a in args]
    run = subprocess.run([sys.executable, "-m", "replaybench", *argv],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]
    assert "cannot write" in run.stderr


# A password file given by mistake: its lines parse as YAML keys, or are no properties at all.
_SHADOW = "root:*:19000:0:99999:7:::\nadmin:$6$salt$hash:19000:0:99999:7:::\n"


def test_a_file_given_by_mistake_is_refused_without_quoting_it(tmp_path):
    from replaybench.analysis import cost, thresholds
    from replaybench.kafka import client_config
    wrong = tmp_path / "shadow"
    wrong.write_text(_SHADOW)
    team = tmp_path / "thresholds.yaml"
    team.write_text(f"price_sheet: {wrong}\n")
    readers = [lambda: thresholds.load(wrong), lambda: cost.load_prices(wrong),
               lambda: client_config.load(wrong), lambda: profile.load(wrong),
               lambda: workload.load(wrong)]
    for read in readers:
        with pytest.raises(UsageError) as refused:
            read()
        said = str(refused.value).replace(str(wrong), "")
        assert "\n" not in said and "root" not in said and "hash" not in said, said
