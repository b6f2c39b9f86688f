import numpy as np
import pytest

from modeldb.core.exceptions import WarehouseError
from modeldb.warehouse.base import bind, quote


@pytest.mark.parametrize("value, literal", [
    (None, "NULL"), (True, "1"), (np.bool_(False), "0"), (3, "3"), (np.int64(-4), "-4"), (0.5, "0.5"),
    (np.float64(0.25), "0.25"), (float("nan"), "nan"), (float("-inf"), "-inf"),
    ("it's", "'it\\'s'"), ("a\\b", "'a\\\\b'"), ([1, "x"], "[1, 'x']"),
])
def test_quote(value, literal):
    assert quote(value) == literal


def test_a_float_subclass_cannot_inject_sql():
    class Evil(float):
        def __repr__(self):
            return "1); DROP TABLE t; --"

    assert quote(Evil(2.0)) == "2.0"


def test_bind_names_a_missing_parameter():
    with pytest.raises(WarehouseError, match=r"%\(x\)s has no value"):
        bind("SELECT %(x)s", {"y": 1})
