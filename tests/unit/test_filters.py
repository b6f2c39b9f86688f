"""The filter language compiles to lookups in the current state's row, and refuses what it cannot compile."""
import pytest

from modeldb.warehouse.queries.filters import FilterError, _unquoted, compile_expression, compile_order


def test_references_become_array_lookups_typed_by_what_they_are_compared_with():
    got = compile_expression("params.C > 0.1 AND (metrics.f1 >= 0.9 OR tags.team = 'risk')", "run")
    assert "CAST(param_nums AS Array(Nullable(Float64)))[indexOf(param_keys, 'C')] > 0.1" in got.sql
    assert "CAST(metric_values AS Array(Nullable(Float64)))[indexOf(metric_keys, 'f1')]" in got.sql
    assert "CAST(tag_values AS Array(Nullable(String)))[indexOf(tag_keys, 'team')]" in got.sql
    assert got.keys == {("param", "C"), ("metric", "f1"), ("tag", "team")}
    text = compile_expression("params.penalty IN ('l1', 'l2') AND run.name LIKE 'lr%'", "run")
    assert "CAST(param_values AS Array(Nullable(String)))[indexOf(param_keys, 'penalty')] IN" in text.sql
    assert text.sql.endswith("AND name LIKE 'lr\\x25'")  # an attribute is the row's own column; % as an escape


def test_an_unknown_attribute_is_refused_with_the_ones_there_are():
    with pytest.raises(FilterError, match="runs have .*duration_ms"):
        compile_expression("run.colour = 'red'", "run")


def test_strings_are_left_alone_and_backquoted_names_work():
    got = compile_expression("tags.note = 'params.C > 1' AND params.`max-depth` = 3", "run")
    assert "'params.C > 1'" in got.sql and ("param", "max-depth") in got.keys


def test_sorting_uses_number_then_text_and_keeps_direction():
    order = compile_order("metrics.acc DESC, params.C", "model")
    assert order.sql.count("DESC") == 1 and order.sql.count("ASC") == 2  # params sort by number, then text


@pytest.mark.parametrize("expression, entity, message", [
    ("params.C > 1; DROP TABLE x", "run", "';' is not allowed"),
    ("tags.team = 'risk", "run", "unterminated string"),
    ("tags.team = 'a'", "model", "models have no tags"),
    ("run.name = 'a'", "model", "filter models with model."),
])
def test_bad_filters_are_refused_with_the_reason(expression, entity, message):
    with pytest.raises(FilterError, match=message):
        compile_expression(expression, entity)


@pytest.mark.parametrize("value", ["%(project)s", "{db}", "{newest_runs}", "50% {off}", "a\\%b"])
def test_no_text_inside_a_string_can_form_a_placeholder(value):
    """Queries fill in %(name)s and {name} after the filter is compiled in: a string must pass
    through as the same text, with none of its characters left to be read as one."""
    compiled = compile_expression(f"tags.note = '{value}'", "run").sql
    literal = compiled.rsplit(" = ", 1)[1]
    assert not any(c in literal for c in "%{}")
    assert _unquoted(literal) == _unquoted(f"'{value}'")


def test_braces_outside_a_string_are_refused():
    with pytest.raises(FilterError, match="only inside quoted strings"):
        compile_expression("params.C > 0 {newest_runs}", "run")
