"""Workload files: strict validation with one-line errors, overrides, a stable hash."""

import subprocess
import sys
from pathlib import Path

import pytest

from replaybench.engine import workload
from replaybench.engine.workload import WorkloadError

SHIPPED = Path(__file__).resolve().parent.parent / "workloads"


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    return path


def test_every_shipped_workload_is_valid():
    paths = sorted(SHIPPED.glob("*.yaml"))
    assert paths
    for path in paths:
        assert workload.load(path).name == path.stem


def test_overrides_change_the_field_and_the_hash():
    base = workload.load(SHIPPED / "restore-storm.yaml")
    more = workload.load(SHIPPED / "restore-storm.yaml", ["storm.readers=8"])
    assert (base.storm.readers, more.storm.readers) == ("auto", 8)
    assert base.hash != more.hash
    assert workload.load(SHIPPED / "restore-storm.yaml").hash == base.hash


def test_hash_ignores_key_order_and_formatting(tmp_path):
    a = _write(tmp_path, "version: 1\nname: x\nseed: {keys: 10, records: 20}\n")
    b = tmp_path / "b.yaml"
    b.write_text("name: x\nseed:\n  records: 20\n  keys: 10\nversion: 1\n")
    assert workload.load(a).hash == workload.load(b).hash


@pytest.mark.parametrize("text, message", [
    ("version: 2\nname: x\n", "version: expected 1, got 2"),
    ("version: 1\n", "name: expected a non-empty string, got None"),
    ("version: 1\nname: x\nstorm: {reders: 2}\n", "storm.reders: unknown field (did you mean 'readers'?)"),
    ("version: 1\nname: x\nstrom: {}\n", "strom: unknown field (did you mean 'storm'?)"),
    ("version: 1\nname: x\nseed: {value_bytes: 10}\n", "seed.value_bytes: 10 is outside 48..10485760"),
    ("version: 1\nname: x\nseed: {keys: many}\n", "seed.keys: expected an integer, got 'many'"),
    ("version: 1\nname: x\nseed: {random_payload: 3}\n",
     "seed.random_payload: expected true or false, got 3"),
    ("version: 1\nname: x\ntopic: 5\n", "topic: expected a section, got 5"),
    ("version: 1\nname: [x\n", "not valid YAML (expected ',' or ']'"),
    ("- 1\n- 2\n", "a workload is a mapping of fields, got list"),
])
def test_mistakes_are_one_line_naming_file_field_and_value(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(WorkloadError) as err:
        workload.load(path)
    assert str(err.value).startswith(f"{path}:")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_validate_reports_without_traceback(tmp_path):
    path = _write(tmp_path, "version: 1\nname: x\nlive: {rate_per_s: 0}\n")
    bad = subprocess.run([sys.executable, "-m", "replaybench", "workloads", "validate", str(path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"replaybench: {path}: live.rate_per_s: 0 is outside 1.."
    good = subprocess.run([sys.executable, "-m", "replaybench", "workloads", "validate",
                           "restore-storm", "--set", "storm.readers=2"], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("restore-storm: valid (spec hash ")


def test_scale_multiplies_sizes_and_durations_and_set_applies_after():
    path = SHIPPED / "restore-storm.yaml"
    base, smoke = workload.load(path), workload.load(path, scale="smoke")
    assert smoke.seed.records == base.seed.records // 10 and smoke.seed.keys == base.seed.keys // 10
    assert smoke.phases.baseline_s == pytest.approx(base.phases.baseline_s * 0.3)
    assert smoke.live.rate_per_s == base.live.rate_per_s and smoke.hash != base.hash
    large = workload.load(path, ["seed.records=7"], scale="large")
    assert large.seed.records == 7 and large.seed.keys == base.seed.keys * 10
    with pytest.raises(WorkloadError, match="--scale 'huge': expected one of smoke, default, large"):
        workload.load(path, scale="huge")


@pytest.mark.parametrize("text, message", [
    ("version: 1\nname: x\nstorm: {follow: true}\n",
     "storm.follow: true needs live.topic: changelog"),
    ("version: 1\nname: x\nlive: {topic: elsewhere}\n",
     "live.topic: 'elsewhere' is not one of live, changelog"),
    ("version: 1\nname: x\nlive: {rate_steps: {soon: 5}}\n", "live.rate_steps: soon: 5 is not"),
    ("version: 1\nname: x\nlive: {producers: 4, keys: 2}\n", "live.keys: 2 is fewer than live.producers (4)"),
])
def test_rules_across_fields(tmp_path, text, message):
    with pytest.raises(WorkloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        workload.load(_write(tmp_path, text))


def test_cli_run_rejects_bad_input_in_one_line_before_starting_anything(tmp_path):
    bad = _write(tmp_path, "version: 1\nname: x\nstorm: {readrs: 2}\n")
    for args, message in (
            (["--workload", str(bad)], f"{bad}: storm.readrs: unknown field (did you mean 'readers'?)"),
            (["--client-config", str(bad)], "--client-config applies to --bootstrap clusters only"),
            (["--workload", "no-such-workload"], "no such workload file")):
        run = subprocess.run([sys.executable, "-m", "replaybench", "run", "--results",
                              str(tmp_path / "r"), *args], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, run.stderr
        assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_set_reaches_into_mappings_whose_keys_have_dots():
    spec = workload.load(SHIPPED / "restore-storm.yaml", [
        "storm.consumer_config.max.partition.fetch.bytes=16384", "topic.configs.segment.bytes=1000000"])
    assert spec.storm.consumer_config == {"max.partition.fetch.bytes": "16384"}
    assert spec.topic.configs == {"cleanup.policy": "compact", "segment.bytes": "1000000"}


@pytest.mark.parametrize("text, expected", [
    ("version: 1\nname: x\nseed: {tombstone_ratio: .nan}\n",
     "seed.tombstone_ratio: expected a finite number, got nan"),
    ("version: 1\nname: x\nphases: {baseline_s: .inf}\n",
     "phases.baseline_s: expected a finite number, got inf"),
    ("version: 1\nname: x\nstorm:\n  readers: 2\n  readers: 8\n", "duplicate key 'readers'"),
    ("version: 1\nname: ../etc\n", "name: '../etc' is not safe in a path or a topic name"),
    ("version: 1\nname: \"a\\x01b\"\n", "is not safe in a path or a topic name"),
    ("version: 1\nname: x\nfaults: [{action: pause, broker: 0, at_s: 1}]\n",
     "faults[0].broker: 0 is outside 1..9"),
    ("version: 1\nname: x\nfaults: [{action: pause, broker: 1, at_restore_percent: 150}]\n",
     "faults[0].at_restore_percent: 150.0 is outside -1.0..100.0"),
    ("version: 1\nname: x\nfaults: [{action: pause, broker: 1, at_s: 1, duration_s: -3}]\n",
     "faults[0].duration_s: -3.0 is outside 0.0..3600.0"),
])
def test_nonsense_is_refused_in_one_line(tmp_path, text, expected):
    with pytest.raises(WorkloadError) as err:
        workload.load(_write(tmp_path, text))
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_set_value_that_is_not_yaml_is_one_line_not_a_traceback():
    run = subprocess.run([sys.executable, "-m", "replaybench", "workloads", "show",
                          "restore-storm", "--set", "storm.readers=[1, 2"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().startswith("replaybench: --set 'storm.readers=[1, 2': the value is "
                                         "not valid YAML")


def test_an_embedded_cluster_that_cannot_hold_the_workload_is_refused_before_it_starts(tmp_path):
    run = subprocess.run([sys.executable, "-m", "replaybench", "run", "--workload",
                          "broker-replacement", "--brokers", "1", "--results", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert "topic.replication: 3 needs at least as many brokers, the embedded cluster has 1" \
        in run.stderr
    assert not any(tmp_path.iterdir())
