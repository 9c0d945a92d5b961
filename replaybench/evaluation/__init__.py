"""Platform evaluation: the Kafka semantics a stateful job relies on, checked against one
cluster (`replaybench compat`)."""
