"""The metric points' insert on the ClickHouse server: Native blocks over HTTP, and the native
protocol when the HTTP port does not answer. Both store exactly the same rows."""
from __future__ import annotations

import logging

import pytest

from modeldb.core import codec
from modeldb.core.config import Settings
from modeldb.core.exceptions import WarehouseError
from modeldb.devtools.services import free_port
from modeldb.producers import batching
from modeldb.stream_processors.materializer import COLUMNS, decode_and_validate, materialize
from modeldb.warehouse.factory import connect
from tests.integration.conftest import unique
from tests.unit.test_metric_batches import logged_points

COLUMNS_SQL = ", ".join(COLUMNS["metrics"])


def points(runs: int = 4, per_run: int = 300):
    """Real batches of points (names, models, slices, repeated steps, NaN) and a few single points."""
    sent = [batching.batch_event(logged_points(per_run, run_id=f"run-{k}", seed=k)) for k in range(runs)]
    sent += [batching.batch_event([e]) for e in logged_points(7, run_id="single", seed=99)]
    encoded = [codec.encode({k: v for k, v in e.items() if k != "_points"}) for e in sent]
    return materialize([(decode_and_validate(v), v) for v in encoded])["metrics"]


def stored(warehouse) -> list[tuple]:
    rows = warehouse.query(f"SELECT {COLUMNS_SQL} FROM `{warehouse.database}`.metrics", readonly=False).rows
    return sorted(rows, key=repr)  # repr: NaN compares equal to itself as text


def connect_to(clickhouse, tmp_path, http_port: int | None):
    uri = clickhouse.warehouse_uri(unique("pts"))
    if http_port is not None:
        uri = uri.rsplit("?", 1)[0] + f"?http_port={http_port}"
    return connect(Settings.load(env={}, home=tmp_path, warehouse=uri))


def test_points_over_http_are_the_rows_the_native_protocol_stores(clickhouse, tmp_path):
    batch = points()
    over_http, native = connect_to(clickhouse, tmp_path, None), connect_to(clickhouse, tmp_path, 0)
    try:
        assert over_http._http is not None and native._http is None
        over_http.insert_columns("metrics", COLUMNS["metrics"], batch)
        native.insert_columns("metrics", COLUMNS["metrics"], batch)
        assert over_http._http is not None  # the HTTP path was taken, not fallen back from
        got = stored(over_http)
        assert len(got) == len(batch) == 4 * 300 + 7
        assert repr(got) == repr(stored(native)) == repr(sorted(batch, key=repr))
        over_http.insert_columns("metrics", COLUMNS["metrics"], batch)  # redelivered: collapses on merge
        over_http.execute(f"OPTIMIZE TABLE `{over_http.database}`.metrics FINAL")
        assert repr(stored(over_http)) == repr(got)
    finally:
        over_http.close()
        native.close()


def test_an_http_port_that_does_not_answer_falls_back_to_the_native_protocol_once(clickhouse, tmp_path, caplog):
    batch = points(runs=2)
    warehouse = connect_to(clickhouse, tmp_path, free_port())  # nothing listens there
    try:
        with caplog.at_level(logging.WARNING, logger="modeldb.warehouse.clickhouse_backend"):
            warehouse.insert_columns("metrics", COLUMNS["metrics"], batch)
            warehouse.insert_columns("metrics", COLUMNS["metrics"], batch)
        warnings = [r.getMessage() for r in caplog.records if "HTTP port" in r.getMessage()]
        assert len(warnings) == 1 and "http_port=" in warnings[0]
        warehouse.execute(f"OPTIMIZE TABLE `{warehouse.database}`.metrics FINAL")  # the second copy collapses
        assert repr(stored(warehouse)) == repr(sorted(batch, key=repr))
    finally:
        warehouse.close()


def test_a_refused_http_insert_names_the_problem_without_a_traceback(clickhouse, tmp_path):
    warehouse = connect_to(clickhouse, tmp_path, None)
    try:
        with pytest.raises(WarehouseError) as caught:
            warehouse.insert_columns("no_such_table", COLUMNS["metrics"], points(runs=1))
        assert caught.value.code == 60 and "no_such_table" in str(caught.value) and "Stack trace" not in str(caught.value)
    finally:
        warehouse.close()


@pytest.mark.parametrize("port", ["http", "-1", "65536"])
def test_a_bad_http_port_is_refused_by_name(clickhouse, tmp_path, port):
    with pytest.raises(WarehouseError, match=f"http_port={port!r}"):
        connect_to(clickhouse, tmp_path, port)


def test_a_server_that_is_down_is_unavailable_and_its_points_go_over_http_again_once_it_is_back(tmp_path):
    from modeldb.core.exceptions import WarehouseUnavailable
    from modeldb.devtools import services

    server = services.start_clickhouse(tmp_path / "clickhouse")
    try:
        warehouse = connect(Settings.load(env={}, home=tmp_path, warehouse=server.warehouse_uri("downup")))
        batch = points(runs=1)
        warehouse.insert_columns("metrics", COLUMNS["metrics"], batch)
        server.stop()
        with pytest.raises(WarehouseUnavailable):
            warehouse.insert_columns("metrics", COLUMNS["metrics"], batch)
        assert warehouse._http is not None  # down is not "no HTTP port": no fall-back
        server = services.restart(server)
        warehouse.insert_columns("metrics", COLUMNS["metrics"], batch)
        assert warehouse._http is not None
        warehouse.execute("OPTIMIZE TABLE downup.metrics FINAL")
        assert repr(stored(warehouse)) == repr(sorted(batch, key=repr))
        warehouse.close()
    finally:
        server.stop()
