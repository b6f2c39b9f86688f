"""MLflow's search_runs grammar: what the parser accepts, what it refuses, and the SQL it writes."""
import pytest

from modeldb.warehouse.queries.filters import FilterError
from modeldb.warehouse.queries.mlflow_filter import compile_filter, compile_order, tokens


def test_the_documented_clauses_compile_to_array_lookups():
    sql = compile_filter("params.p0 = '3' and metrics.m0 > 0.5")
    assert sql == ("(CAST(param_values AS Array(Nullable(String)))[indexOf(param_keys, 'p0')] = '3') AND "
                   "(CAST(metric_values AS Array(Nullable(Float64)))[indexOf(metric_keys, 'm0')] > 0.5)")
    assert compile_filter("") == "" and compile_filter("   ") == ""


def test_entity_aliases_quoted_keys_and_attributes():
    assert "'my key'" in compile_filter('tags."my key" = \'x\'')
    assert "'max-depth'" in compile_filter("param.`max-depth` != '3'")
    assert compile_filter("attributes.run_id IN ('a', 'b')") == "(run_id IN ('a', 'b'))"
    with pytest.raises(FilterError, match="only run_id compares with a list"):
        compile_filter("attributes.status IN ('FINISHED', 'FAILED')")
    name = "ifNull(CAST(tag_values AS Array(Nullable(String)))[indexOf(tag_keys, 'mlflow.runName')], name)"
    assert compile_filter("run.run_name ILIKE 'LR%'") == f"(lower({name}) LIKE lower('LR\\x25'))"  # a rename is the tag
    assert compile_filter("attr.start_time >= 1700000000000") == "(intDiv(started_ts, 1000) >= 1700000000000.0)"
    assert compile_filter("tags.team IS NULL") == "(NOT (indexOf(tag_keys, 'team') > 0))"
    assert compile_filter("params.C IS NOT NULL AND metrics.`a b` <= -1e-3") == (
        "(indexOf(param_keys, 'C') > 0) AND "
        "(CAST(metric_values AS Array(Nullable(Float64)))[indexOf(metric_keys, 'a b')] <= -0.001)")


def test_a_string_cannot_leave_its_quotes():
    sql = compile_filter("params.p = \"x' OR 1=1 --\"")
    assert sql.endswith("= 'x\\' OR 1=1 --')")
    assert "{" not in compile_filter("tags.t = '{db}%(project)s'")


@pytest.mark.parametrize("text, says", [
    ("metrics.m0 > 0.5 or params.p = '1'", "no OR"),
    ("metrics.m0 LIKE '1'", "metrics compare with"),
    ("params.p > '1'", "params compare with"),
    ("params.p = 1", "expected a quoted string"),
    ("metrics.m = 'x'", "expected a number"),
    ("attributes.artifact_uri = 'x'", "runs are searched by"),
    ("foo.bar = 'x'", "a clause starts with"),
    ("metrics.m > 1; DROP TABLE runs", "unexpected"),
    ("params.p = 'open", "unexpected"),
    ("metrics.m >", "ends where"),
    ("attributes.run_id IN 'x'", "parenthesised list"),
    ("metrics.m > 1e999", "not a finite number"),
    ("(metrics.m > 1)", "a clause starts with"),
])
def test_anything_else_is_refused_with_its_reason(text, says):
    with pytest.raises(FilterError, match=says):
        compile_filter(text)


def test_a_huge_filter_or_a_non_string_is_refused_before_it_is_read():
    with pytest.raises(FilterError, match="limit"):
        tokens("metrics.m > 1 AND " * 1000)
    with pytest.raises(FilterError, match="is a string"):
        compile_filter(["metrics.m > 1"])


def test_order_puts_missing_keys_last_then_mlflows_tie_break():
    assert compile_order(["metrics.m1 DESC"]) == (
        "isNull(CAST(metric_values AS Array(Nullable(Float64)))[indexOf(metric_keys, 'm1')]) ASC, "
        "CAST(metric_values AS Array(Nullable(Float64)))[indexOf(metric_keys, 'm1')] DESC, "
        "started_ts DESC, run_id ASC")
    assert compile_order([]) == "started_ts DESC, run_id ASC"
    assert compile_order(["attributes.run_name"]).endswith("name) ASC, started_ts DESC, run_id ASC")
    with pytest.raises(FilterError, match="expected"):
        compile_order(["metrics.m DESC DESC"])
    with pytest.raises(FilterError, match="list of strings"):
        compile_order("metrics.m")
