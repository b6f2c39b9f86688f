"""Settings for the whole test suite, made before anything imports modeldb.

``MODELDB_TESTING=1`` makes a tracker error raise instead of being logged and swallowed
(``modeldb.producers.autolog.safety``), so a tracker bug fails a test. A test that checks
the swallowing behaviour turns it off for itself (``modeldb.init(testing=False)``).
"""
import os

os.environ["MODELDB_TESTING"] = "1"
