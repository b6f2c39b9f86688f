"""Baseline for the processor benchmark: a Faust agent that only counts the events it takes.

Run by bench/foundation.py as ``faust_noop.py worker`` with BENCH_BROKER, BENCH_TOPIC and
BENCH_EVENTS set. Prints ``rate <events/s>`` (from its first batch to the last event) and exits.
"""
import os
import time

import faust

broker, topic, target = os.environ["BENCH_BROKER"], os.environ["BENCH_TOPIC"], int(os.environ["BENCH_EVENTS"])
app = faust.App(f"noop-{topic}", broker=f"kafka://{broker}", value_serializer="raw", web_enabled=False,
                store="memory://", topic_disable_leader=True, topic_allow_declare=False,
                consumer_auto_offset_reset="earliest", stream_buffer_maxsize=10000)
source = app.topic(topic, value_type=bytes, key_type=bytes, value_serializer="raw", key_serializer="raw")
state = {"n": 0, "t0": 0.0}


@app.agent(source)
async def count(stream):
    async for events in stream.take_events(5000, within=0.5):
        if not state["n"]:
            state["t0"], state["first"] = time.perf_counter(), len(events)
        state["n"] += len(events)
        if state["n"] >= target:
            rate = (state["n"] - state["first"]) / (time.perf_counter() - state["t0"])
            print(f"rate {rate:.1f}", flush=True)
            os._exit(0)


if __name__ == "__main__":
    app.main()
