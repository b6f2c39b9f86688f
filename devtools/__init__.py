"""Development tools, in a room of their own: local service launchers (Kafka, ClickHouse, ZooKeeper) and the demo.

Nothing in the runtime layers imports this package; the CLI's ``demo`` and ``services`` commands and the
test suite do.
"""
