"""``modeldb.sklearn.autolog()``: the scikit-learn tracker (it lives in ``modeldb.producers.sklearn``)."""
from modeldb.producers.sklearn import Autolog, autolog, disable

__all__ = ["Autolog", "autolog", "disable"]
