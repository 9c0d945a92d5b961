"""Least privilege as a pure table: what each role is granted, and a denial told as the
principal, operation and resource it lacked (librdkafka's and the Java client's spelling)."""

from __future__ import annotations

import pytest

from replaybench.engine import acls
from replaybench.errors import UsageError

NAMES = acls.StreamsNames("rb-r1", "rb-r1-output", "rb-r1-rb-aggregate-")


def _of(grants: list[acls.Grant], role: str) -> set[str]:
    return {g.describe() for g in grants if g.role == role}


def test_each_role_gets_its_own_topics_only():
    grants = acls.least_privilege("rb-r1-changelog", "rb-r1-live")
    assert _of(grants, "reader") == {"READ topic rb-r1-changelog", "DESCRIBE topic rb-r1-changelog",
                                     "READ group replaybench-restore-*"}
    assert _of(grants, "producer") == {"WRITE topic rb-r1-live", "DESCRIBE topic rb-r1-live"}
    assert not _of(grants, "streams")
    replay = acls.least_privilege("theirs", "rb-r1-live", seeded=False)
    assert not _of(replay, "seeder")   # a replayed topic is never written
    assert not _of(grants, "monitor")   # no lag exporter without --monitor
    watched = acls.least_privilege("rb-r1-changelog", "rb-r1-live", monitored=True)
    assert _of(watched, "monitor") == {"DESCRIBE topic *", "DESCRIBE group *"}


def test_a_kafka_streams_run_grants_the_application_its_own_namespace():
    grants = acls.least_privilege("rb-r1-changelog", "rb-r1-changelog", streams=NAMES)
    app = _of(grants, "streams")
    assert {"READ topic rb-r1-changelog", "WRITE topic rb-r1-output",
            "ALL topic rb-r1-rb-aggregate-*", "READ group rb-r1",
            "WRITE transactional_id rb-r1*"} <= app
    assert "READ topic rb-r1-rb-aggregate-changelog" in _of(grants, "reader")
    assert not any("rb-r1-changelog" in g for g in _of(grants, "reader") | _of(grants, "consumer"))


@pytest.mark.parametrize("reason, expected", [
    ("reader-0-1: KafkaError{code=TOPIC_AUTHORIZATION_FAILED,val=29}",
     "reader-0-1: principal User:reader may not READ topic rb-r1-rb-aggregate-changelog"),
    ("streams-0: the JVM exited (1); its log ends: org.apache.kafka.common.errors."
     "GroupAuthorizationException: Not authorized to access group: rb-r1",
     "streams-0: principal User:streams may not READ group rb-r1"),
    ("streams-2: TransactionalIdAuthorizationException",
     "streams-2: principal User:streams may not WRITE transactional_id rb-r1*"),
])
def test_a_denial_names_principal_operation_and_resource(reason, expected):
    grants = acls.least_privilege("rb-r1-changelog", "rb-r1-changelog", streams=NAMES)
    assert acls.explain(reason, grants, []).startswith(expected)


def test_unrelated_reasons_pass_unchanged_and_bad_drops_are_refused():
    assert acls.explain("reader-0-1: timed out", [], []) == "reader-0-1: timed out"
    assert acls.parse_drop("streams:ALL:topic") == ("streams", "ALL", "topic")
    with pytest.raises(UsageError, match="--drop-acl 'reader:EAT'"):
        acls.parse_drop("reader:EAT")
    with pytest.raises(UsageError, match="needs --security sasl_ssl"):
        acls.check_drops(("reader:READ",), "tls")


def test_the_authorizer_log_is_read_per_principal_within_the_run(tmp_path):
    from replaybench.clusters import audit_log
    line = ("{ms} Principal = User:{who} is {how} operation = {op} from host = 127.0.0.1 on "
            "resource = Topic:LITERAL:{topic} for request = Fetch with resourceRefCount = 1 "
            "based on rule MatchingAcl(acl=...)\n")
    log = tmp_path / "authorizer.log"
    log.write_text("".join([
        line.format(ms=1_000, who="reader", how="Allowed", op="READ", topic="old-run"),
        line.format(ms=2_000, who="reader", how="Allowed", op="READ", topic="changelog"),
        line.format(ms=2_500, who="streams", how="Denied", op="READ", topic="input"),
        "a line that is not a decision\n",
        line.format(ms=3_000, who="reader", how="Allowed", op="READ", topic="changelog"),
        "3500 Principal = User:tru",   # a last line cut short by the broker's exit
    ]))
    seen = audit_log.read([log, tmp_path / "replaced-broker.log"], since_ns=1_500_000_000,
                          until_ns=4_000_000_000)
    assert seen == {"User:reader": {"allowed": ["READ Topic:changelog"]},
                    "User:streams": {"denied": ["READ Topic:input"]}}


def test_a_migrations_roles_get_on_each_cluster_only_what_they_do_there():
    """The target of a cutover with a rollback: the producers write the topic, the consumers
    read it and its copy in their group, the mirror makes the copies here and reads back what
    the reverse mirror takes; the harness's own principal is nobody's."""
    names = acls.MigrationNames("rb-r1-orders", ("source.rb-r1-orders", "rb-r1-orders"),
                                "rb-r1-app", ("source.rb-r1-orders", "source.orders"),
                                ("rb-r1-orders",), ("rb-r1-app",), "source",
                                ("rb-r1-app", "billing"))
    grants = acls.migration_grants(names)
    assert _of(grants, "producer") == {"WRITE topic rb-r1-orders", "DESCRIBE topic rb-r1-orders"}
    assert _of(grants, "consumer") == {
        "READ topic source.rb-r1-orders", "DESCRIBE topic source.rb-r1-orders",
        "READ topic rb-r1-orders", "DESCRIBE topic rb-r1-orders", "READ group rb-r1-app"}
    mirror = _of(grants, "mirror")
    assert {"CREATE topic source.orders", "WRITE topic source.orders",
            "READ topic rb-r1-orders", "DESCRIBE group rb-r1-app", "ALL group source-mm2",
            "ALL topic source.checkpoints.internal", "ALL topic source.heartbeats",
            "READ group billing"} <= mirror   # the offsets it syncs into the team's group
    assert "WRITE topic rb-r1-orders" not in mirror
    # where no mirror writes, nothing of a writer's
    names = names.__class__(**{**names.__dict__, "writer": "", "groups_in": ()})
    assert not {g for g in _of(acls.migration_grants(names), "mirror")
                if "group" in g and ("mm2" in g or g.startswith("READ"))}
    assert not _of(grants, "monitor") and not _of(grants, "seeder")
    assert _of(acls.migration_grants(names, monitored=True), "monitor") == \
        {"DESCRIBE topic *", "DESCRIBE group *"}


def test_a_streams_move_grants_the_application_not_a_consumer_on_each_cluster():
    """The target of a Kafka Streams move with its changelog mirrored: the application reads
    its input and owns its internal topics under its own principal, as on one cluster; the
    mirror makes the input's and the changelog's copies and syncs the application's group;
    no consumer principal is granted anything."""
    app = acls.StreamsNames("rb-r1-app", "rb-r1-output", "rb-r1-app-rb-aggregate-")
    names = acls.MigrationNames(
        "rb-r1-orders", ("rb-r1-orders",), "rb-r1-app",
        ("rb-r1-orders", "rb-r1-app-rb-aggregate-changelog"), (), (), "source", ("rb-r1-app",),
        app)
    grants = acls.migration_grants(names)
    assert not _of(grants, "consumer") and not _of(grants, "reader")
    assert _of(grants, "streams") == {
        "READ topic rb-r1-orders", "DESCRIBE topic rb-r1-orders", "WRITE topic rb-r1-output",
        "DESCRIBE topic rb-r1-output", "ALL topic rb-r1-app-rb-aggregate-*",
        "READ group rb-r1-app", "WRITE transactional_id rb-r1-app*",
        "DESCRIBE transactional_id rb-r1-app*"}
    assert {"CREATE topic rb-r1-app-rb-aggregate-changelog", "READ group rb-r1-app",
            "WRITE topic rb-r1-app-rb-aggregate-changelog"} <= _of(grants, "mirror")


def test_a_migrations_grant_left_out_is_left_out_on_its_side_and_named_when_refused():
    """--drop-acl mirror:DESCRIBE:group: MirrorMaker may not read the source's groups it
    checkpoints, and a refusal is explained as the grant it lacked."""
    names = acls.MigrationNames("orders", ("orders",), "app", (), ("orders",), ("app", "billing"),
                                "", ())
    kept, dropped = acls._left_out(acls.migration_grants(names), ("mirror:DESCRIBE:group",))
    assert {g.describe() for g in dropped} == {"DESCRIBE group app", "DESCRIBE group billing"}
    assert all(g.role != "mirror" or g.resource != "group" for g in kept)
    reason = ("mirror: GroupAuthorizationException: Not authorized to access group: app")
    explained = acls.explain(reason, kept, dropped)
    assert explained.startswith("mirror: principal User:mirror may not DESCRIBE group app "
                                "(left out by --drop-acl)"), explained
