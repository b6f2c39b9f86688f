"""The bottom layer: settings, exceptions, the event model, the event log and the Avro codec.

Nothing here imports any other part of ModelDB, so every layer above can use it.
"""
__version__ = "0.1.0"
