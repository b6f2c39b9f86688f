"""The autolog layer the scikit-learn and Spark trackers share, and which knows neither framework.

* ``safety``: the one safe-patch primitive; a user's error passes through, a tracker's is
  logged once (raised under the test suite).
* ``lifecycle``: the on/off switch, the tracker base (call stack, warnings, the automatic run)
  and the ``Autolog`` handle.
* ``deferred``: the background thread for work off the user's thread.
* ``registry``, ``lineage``, ``bounds``, ``params``: what both trackers record the same way:
  objects by identity, column lineage, events kept under Kafka's size limit, typed params.
"""
