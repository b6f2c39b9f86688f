"""Installing and removing the patches, so that unchanged scikit-learn code is tracked.

* Estimator methods are patched where they are defined: on every class that
  subclasses ``BaseEstimator`` (and the mixins they inherit from), including
  classes imported or defined after ``autolog()``: a hook on
  ``__init_subclass__`` patches each new class once it is complete. Methods
  behind ``available_if`` keep their descriptor (so ``hasattr`` still answers
  as before); only the function inside is wrapped.
* Nothing is imported early: a module that is not loaded yet is patched when
  the user's code imports it (``autolog.imports``), so tracking never moves an
  import, and its side effects (scikit-learn's imports draw from ``random``), to
  another moment.
* Functions (``train_test_split``, ``cross_val_score``, ``cross_validate``
  and the ``sklearn.metrics`` scoring functions) are wrapped *inside* their
  parameter-validation decorator: the decorator's reference to the real
  function is pointed at the wrapper. So every reference to the public
  function, even one imported before ``autolog()``, is tracked. A function
  without that decorator is replaced in its public module and in the
  namespace that called ``autolog()`` instead.
* Only calls made from outside scikit-learn start an action: a predict that
  ``permutation_importance`` or a scorer makes, or the clones that
  ``cross_val_predict`` fits, are scikit-learn's own work, not the user's.

Every wrapper is made by the one safe-patch primitive (``autolog.safety``): the
user's own errors pass through unchanged, a tracker error is logged once. A
wrapper whose tracker is off calls straight through, so a patch that cannot
be removed (a class wrapped again by someone else) costs one check.
"""
from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable

from modeldb.producers.autolog import imports, safety
from modeldb.producers.sklearn import evaluation, model_selection, tracker as T

METHODS = ("fit", "fit_transform", "transform", "predict", "predict_proba", "predict_log_proba",
           "decision_function", "score", "fit_predict", "partial_fit")
FUNCTION_MODULES = ("sklearn.model_selection", "sklearn.metrics")  # patched when loaded (``imports``)
SPLIT_FUNCTIONS = ("train_test_split",)  # in sklearn.model_selection
CV_FUNCTIONS = ("cross_val_score", "cross_validate")
METRIC_EXCLUDED = {"consensus_score"}  # compares two biclusterings, not a model's output with data


WRAPPER_MODULES = ("sklearn.utils._set_output", "sklearn.utils._param_validation")


def from_sklearn(frame: Any) -> bool:
    """Whether the caller (``frame``, past scikit-learn's own decorators) is scikit-learn or joblib."""
    name = ""
    for _ in range(4):
        if frame is None:
            return False
        name = frame.f_globals.get("__name__", "")
        if name not in WRAPPER_MODULES:
            break
        frame = frame.f_back
    return name.startswith(("sklearn.", "joblib."))


def _current() -> Any:
    return T.SWITCH._current


def _user_method(tracker: Any, caller: Any, *args: Any, **kwargs: Any) -> bool:
    """Skip a method call that scikit-learn itself makes, unless it is inside a tracked call."""
    return not tracker.busy() and from_sklearn(caller)


def _user_function(tracker: Any, caller: Any, *args: Any, **kwargs: Any) -> bool:
    """Skip a function call made inside a tracked call, or by scikit-learn itself."""
    return tracker.busy() or from_sklearn(caller)


def _method_wrapper(name: str, original: Callable) -> Callable:
    def hook(tracker: Any, call: Callable, est: Any, *args: Any, **kwargs: Any) -> Any:
        return tracker.call(call, est, name, args, kwargs)

    def untracked(tracker: Any, est: Any, *args: Any, **kwargs: Any) -> Any:
        return tracker.untracked(original, est, name, args, kwargs)

    return safety.safe_patch(original, hook, current=_current, skip=_user_method, untracked=untracked,
                             site=lambda est, *a, **k: f"{type(est).__name__}.{name}")


def _metric_wrapper(original: Callable) -> Callable:
    signature = inspect.signature(original)

    def hook(tracker: Any, call: Callable, *args: Any, **kwargs: Any) -> Any:
        value = call(*args, **kwargs)
        evaluation.on_metric(tracker, original, signature, args, kwargs, value)
        return value

    return safety.safe_patch(original, hook, current=_current, skip=_user_function, site=original.__name__)


def _split_wrapper(original: Callable) -> Callable:
    def skip(tracker: Any, caller: Any, *arrays: Any, **options: Any) -> bool:
        return not arrays or _user_function(tracker, caller)

    return safety.safe_patch(original, model_selection.train_test_split, current=_current, skip=skip,
                             site="train_test_split")


def _cv_wrapper(name: str, original: Callable) -> Callable:
    return safety.safe_patch(original, functools.partial(model_selection.cross_validation, name), current=_current,
                             skip=_user_function, site=name)


class Patches:
    """Every change made to scikit-learn, so that ``undo`` puts it all back."""

    def __init__(self) -> None:
        self._methods: list[tuple[type, str, Any, Callable]] = []  # owner, name, descriptor-or-None, original
        self._patched: set[tuple[type, str]] = set()
        self._functions: list[tuple[dict, str, Callable, Callable]] = []  # namespace, name, original, wrapper
        self._hooks: list[tuple[type, Any]] = []
        self._cells: list[tuple[Any, Callable, Callable]] = []  # closure cell, original, wrapper
        self._wrappers: dict[int, Callable] = {}  # id(original function) -> wrapper
        self._lock = threading.RLock()
        self._hook_depth = threading.local()
        self._watcher = imports.Watcher()

    # -- methods ---------------------------------------------------------------
    def patch_class(self, cls: type) -> None:
        with self._lock:
            for owner in cls.__mro__:
                if owner is object or not owner.__module__.startswith("sklearn") and owner is not cls:
                    continue
                for name in METHODS:
                    if name in owner.__dict__ and (owner, name) not in self._patched:
                        self._patch_method(owner, name)

    def _patch_method(self, owner: type, name: str) -> None:
        entry = owner.__dict__[name]
        self._patched.add((owner, name))
        if inspect.isfunction(entry):
            if hasattr(entry, "__modeldb_original__"):
                return
            wrapper = _method_wrapper(name, entry)
            setattr(owner, name, wrapper)
            self._methods.append((owner, name, None, entry))
        elif inspect.isfunction(getattr(entry, "fn", None)) and not hasattr(entry.fn, "__modeldb_original__"):
            original = entry.fn
            entry.fn = _method_wrapper(name, original)  # available_if: keep the descriptor, wrap its function
            self._methods.append((owner, name, entry, original))

    def patch_loaded_estimators(self) -> None:
        from sklearn.base import BaseEstimator  # imports no estimator module, and so draws nothing from random

        seen: set[type] = set()
        todo = [BaseEstimator]
        while todo:
            cls = todo.pop()
            if cls in seen:
                continue
            seen.add(cls)
            self.patch_class(cls)
            todo.extend(cls.__subclasses__())

    def hook_new_classes(self) -> None:
        """Patch estimator classes created from now on, after their own ``__init_subclass__`` chain."""
        from sklearn.base import BaseEstimator
        from sklearn.utils._set_output import _SetOutputMixin

        for base in (BaseEstimator, _SetOutputMixin):
            for owner in base.__mro__:
                if "__init_subclass__" in owner.__dict__ and owner is not object:
                    if owner not in (h[0] for h in self._hooks):
                        self._install_hook(owner)
                    break

    def _install_hook(self, owner: type) -> None:
        original = owner.__dict__["__init_subclass__"]
        depth = self._hook_depth
        patches = self

        def __init_subclass__(cls: type, **kwargs: Any) -> None:
            level = getattr(depth, "n", 0)
            depth.n = level + 1
            try:
                original.__get__(None, cls)(**kwargs)
            finally:
                depth.n = level
            tracker = T.SWITCH._current
            if level == 0 and tracker is not None:
                try:
                    patches.patch_class(cls)
                except Exception as exc:  # noqa: BLE001 - the user's class is defined; it goes untracked
                    safety.tracker_error(tracker, f"patching {cls.__name__}", exc)

        setattr(owner, "__init_subclass__", classmethod(__init_subclass__))
        self._hooks.append((owner, original))

    # -- functions -------------------------------------------------------------
    def patch_functions(self, caller_globals: dict | None) -> None:
        """Patch the functions of ``FUNCTION_MODULES`` now if loaded, else when the user's code imports them."""
        for module in FUNCTION_MODULES:
            self._watcher.after_import(module, self._patch_module)
        if caller_globals is not None:
            self.rebind(caller_globals)

    def _patch_module(self, module: Any) -> None:
        try:
            self._patch_functions_of(module)
        except Exception as exc:  # noqa: BLE001 - the user's import goes on; these functions go untracked
            tracker = T.SWITCH._current
            if tracker is not None:
                safety.tracker_error(tracker, f"patching {module.__name__}", exc)

    def _patch_functions_of(self, module: Any) -> None:
        targets: list[tuple[dict, str, Callable[[Callable], Callable]]] = []
        if module.__name__ == "sklearn.model_selection":
            targets += [(vars(module), name, _split_wrapper) for name in SPLIT_FUNCTIONS]
            targets += [(vars(module), name, functools.partial(_cv_wrapper, name)) for name in CV_FUNCTIONS]
        else:
            for name in getattr(module, "__all__", ()):
                fn = getattr(module, name, None)
                if inspect.isfunction(fn) and name not in METRIC_EXCLUDED and name.endswith(("_score", "_error",
                                                                                             "_loss")):
                    targets.append((vars(module), name, _metric_wrapper))
        with self._lock:
            self._wrap(targets)

    def _wrap(self, targets: list[tuple[dict, str, Callable[[Callable], Callable]]]) -> None:
        for namespace, name, make in targets:
            public = namespace[name]
            if hasattr(public, "__modeldb_original__") or self._wrap_inside(public, make):
                continue
            wrapper = make(public)
            self._wrappers[id(public)] = wrapper
            self._replace(namespace, name, public, wrapper)

    def _wrap_inside(self, public: Callable, make: Callable[[Callable], Callable]) -> bool:
        """Point a decorator's closure reference to the real function at a wrapper of it."""
        inner = getattr(public, "__wrapped__", None)
        if not inspect.isfunction(inner):
            return False
        for cell in public.__closure__ or ():
            try:
                held = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if held is inner:
                wrapper = make(inner)
                cell.cell_contents = wrapper
                self._cells.append((cell, inner, wrapper))
                return True
            if getattr(held, "__modeldb_original__", None) is inner:
                return True  # already wrapped (by an autolog that could not be undone)
        return False

    def rebind(self, namespace: dict) -> None:
        """Point names bound to an original function (imported before autolog) at its wrapper."""
        for name, value in list(namespace.items()):
            wrapper = self._wrappers.get(id(value)) if callable(value) else None
            if wrapper is not None and getattr(wrapper, "__modeldb_original__", None) is value:
                self._replace(namespace, name, value, wrapper)

    def _replace(self, namespace: dict, name: str, original: Callable, wrapper: Callable) -> None:
        namespace[name] = wrapper
        self._functions.append((namespace, name, original, wrapper))

    # -- undo ------------------------------------------------------------------
    def undo(self) -> None:
        self._watcher.close()
        with self._lock:
            for owner, name, descriptor, original in reversed(self._methods):
                if descriptor is not None:
                    descriptor.fn = original
                elif getattr(owner.__dict__.get(name), "__modeldb_original__", None) is original:
                    setattr(owner, name, original)
            for namespace, name, original, wrapper in reversed(self._functions):
                if namespace.get(name) is wrapper:
                    namespace[name] = original
            for cell, original, wrapper in reversed(self._cells):
                if cell.cell_contents is wrapper:
                    cell.cell_contents = original
            for owner, original in reversed(self._hooks):
                setattr(owner, "__init_subclass__", original)
            self._methods.clear()
            self._patched.clear()
            self._functions.clear()
            self._hooks.clear()
            self._cells.clear()
            self._wrappers.clear()
