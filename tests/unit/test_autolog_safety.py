"""The safe-patch primitive: a user's error passes through unchanged, a tracker's is logged once (raised under tests)."""
from __future__ import annotations

import logging
import traceback

import pytest

import modeldb
from modeldb.producers.autolog import safety
from modeldb.producers.autolog.deferred import Deferred
from modeldb.producers.autolog.lifecycle import TrackerBase


class UserError(Exception):
    pass


class Tracker(TrackerBase):
    def __init__(self) -> None:
        super().__init__(options=None, name="autolog-test")


@pytest.fixture
def tracker(tmp_path):
    modeldb.init(home=tmp_path)  # MODELDB_TESTING=1 comes from tests/conftest.py
    return Tracker()


@pytest.fixture
def lenient(tmp_path):
    """As users run it: tracker errors are logged and swallowed."""
    modeldb.init(home=tmp_path, testing=False)
    yield
    modeldb.init(home=tmp_path)


def user_function(x, fail=False):
    if fail:
        raise UserError(f"bad input {x}")
    return x * 2


class Model:
    def fit(self, x, fail=False):
        if fail:
            raise UserError("cannot fit")
        self.fitted = x
        return self


def around(tracker, call, *args, **kwargs):
    return call(*args, **kwargs)


def broken_after(tracker, call, *args, **kwargs):
    call(*args, **kwargs)
    raise RuntimeError("tracker bug after")


def broken_before(tracker, call, *args, **kwargs):
    raise RuntimeError("tracker bug before")


def patched(hook, tracker, original=user_function, **options):
    return safety.safe_patch(original, hook, current=lambda: tracker, site="user_function", **options)


def test_the_settings_say_the_suite_is_testing(tracker):
    assert modeldb.init().testing is True and safety.testing()


def test_a_user_error_passes_through_unchanged_with_its_traceback(tracker):
    for hook in (around, broken_after):
        with pytest.raises(UserError) as caught:
            patched(hook, tracker)(3, fail=True)
        frames = [f.name for f in traceback.extract_tb(caught.value.__traceback__)]
        assert frames[-1] == "user_function"  # raised where the user's code raised it
        assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_the_very_same_exception_object_comes_back(tracker):
    error = UserError("mine")

    def original():
        raise error

    with pytest.raises(UserError) as caught:
        patched(around, tracker, original)()
    assert caught.value is error


def test_a_tracker_error_raises_under_the_test_suite(tracker):
    with pytest.raises(RuntimeError, match="tracker bug after"):
        patched(broken_after, tracker)(3)
    with pytest.raises(RuntimeError, match="tracker bug before"):
        patched(broken_before, tracker)(3)


def test_a_tracker_error_is_logged_once_and_swallowed_for_users(tracker, lenient, caplog):
    with caplog.at_level(logging.WARNING, logger="modeldb.autolog-test"):
        after, before = patched(broken_after, tracker), patched(broken_before, tracker)
        assert [after(3), after(4), before(5), before(6)] == [6, 8, 10, 12]  # the user's results, every time
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings  # one site, one kind: one line
    assert "could not track user_function" in warnings[0] and "training goes on" in warnings[0]


def test_each_site_and_kind_is_logged_once(tracker, lenient, caplog):
    def key_error(tracker, call, *args, **kwargs):
        raise KeyError("k")

    with caplog.at_level(logging.WARNING, logger="modeldb.autolog-test"):
        for _ in range(3):
            patched(broken_before, tracker)(1)
            patched(key_error, tracker)(1)
            safety.safe_patch(user_function, broken_before, current=lambda: tracker, site="elsewhere")(1)
    assert len(caplog.records) == 3


def test_the_original_runs_once_even_when_the_tracker_fails_after_it(tracker, lenient):
    calls = []

    def counted(x):
        calls.append(x)
        return x

    assert patched(broken_after, tracker, counted)(7) == 7
    assert calls == [7]


def test_a_user_error_wins_over_a_tracker_error_raised_while_it_unwinds(tracker, lenient):
    def cleanup_fails(tracker, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        finally:
            raise RuntimeError("tracker bug in cleanup")

    with pytest.raises(UserError):
        patched(cleanup_fails, tracker)(1, fail=True)


def test_methods_are_patched_the_same_way(tracker, lenient):
    seen = []

    def hook(tracker, call, model, *args, **kwargs):
        seen.append(type(model).__name__)
        result = call(model, *args, **kwargs)
        raise RuntimeError("tracker bug")

    original = Model.fit
    Model.fit = safety.safe_patch(original, hook, current=lambda: tracker,
                                  site=lambda model, *a, **k: f"{type(model).__name__}.fit")
    try:
        model = Model()
        assert model.fit(5) is model and model.fitted == 5
        with pytest.raises(UserError, match="cannot fit"):
            model.fit(1, fail=True)
        assert Model.fit.__modeldb_original__ is original and Model.fit.__name__ == "fit"
    finally:
        Model.fit = original
    assert seen == ["Model", "Model"]


def test_no_tracker_or_a_skip_calls_straight_through(tracker):
    assert safety.safe_patch(user_function, broken_before, current=lambda: None, site="f")(2) == 4
    skip = lambda tracker, caller, *args, **kwargs: True  # noqa: E731
    assert patched(broken_before, tracker, skip=skip)(2) == 4


def test_untracked_runs_when_the_hook_fails_before_the_original(tracker, lenient):
    ran = []

    def untracked(tracker, x):
        ran.append(x)
        return user_function(x)

    assert patched(broken_before, tracker, untracked=untracked)(4) == 8
    assert ran == [4]


def test_keyboard_interrupt_is_never_caught(tracker, lenient):
    def interrupted(tracker, call, *args, **kwargs):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        patched(interrupted, tracker)(1)


def test_a_hook_may_say_what_the_user_gets(tracker, lenient):
    def with_extra(tracker, call, x):
        full = call(x)
        call.result = full - 1  # what the user's own call returns (train_test_split drops its extra array)
        raise RuntimeError("tracker bug")

    assert patched(with_extra, tracker)(5) == 9


def test_a_background_job_is_logged_for_users_and_raised_at_drain_under_tests(tracker, lenient, caplog):
    def job():
        raise RuntimeError("background bug")

    with caplog.at_level(logging.WARNING, logger="modeldb.autolog-test"):
        tracker.submit(job, "a background job")
        assert tracker.drain(5)
    assert "could not track a background job" in caplog.text


def test_a_failed_background_job_fails_the_drain_under_tests(tracker):
    deferred = Deferred("autolog-test")
    ran = []
    deferred.submit(safety.guarded(tracker, lambda: 1 / 0, "dividing"))
    deferred.submit(lambda: ran.append(1))  # later jobs still run
    with pytest.raises(ZeroDivisionError):
        deferred.drain(5)
    assert ran == [1] and deferred.drain(5)  # raised once


def test_a_hook_that_catches_the_users_error_cannot_swallow_it(tracker, lenient):
    def swallowing(tracker, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except UserError:
            return "swallowed"

    patched = safety.safe_patch(user_function, swallowing, current=lambda: tracker, site="user_function")
    with pytest.raises(UserError, match="bad input 3"):
        patched(3, fail=True)
    assert patched(3) == 6


def test_a_failing_skip_or_site_is_a_tracker_error_not_the_users(tracker, lenient, caplog):
    def bad_skip(tracker, frame, *args, **kwargs):
        raise KeyError("skip bug")

    def bad_site(*args, **kwargs):
        raise KeyError("site bug")

    patched = safety.safe_patch(user_function, broken_after, current=lambda: tracker, site=bad_site, skip=bad_skip)
    with caplog.at_level(logging.WARNING):
        assert patched(4) == 8  # the skip failed: the call goes straight through, untracked
    assert "skip bug" in caplog.text
    named = safety.safe_patch(user_function, broken_after, current=lambda: tracker, site=bad_site)
    assert named(5) == 10  # naming the site failed too: still logged, still the original's result


def test_under_tests_a_tracker_error_during_the_users_error_keeps_it_as_the_cause(tracker):
    def broken_on_error(tracker, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        finally:
            raise RuntimeError("tracker bug while unwinding")

    patched = safety.safe_patch(user_function, broken_on_error, current=lambda: tracker, site="user_function")
    with pytest.raises(RuntimeError, match="while unwinding") as raised:
        patched(1, fail=True)
    assert isinstance(raised.value.__cause__, UserError)


def test_importing_a_tracker_sets_no_flush_hook():
    """The flush hook is set by autolog(), not by importing a tracker (or by modeldb.load_model)."""
    import subprocess
    import sys

    code = ("import modeldb.producers.sklearn, modeldb.producers.spark.models; "
            "from modeldb.producers import tracking; print(len(tracking._before_flush))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"
