"""``python -m modeldb.cli``: the same as the ``modeldb`` command."""
from modeldb.cli.app import main

main()
