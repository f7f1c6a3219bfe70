"""Playing runs on a Ray cluster (`--executor ray[:ADDRESS]`; docs/ray.md).

connect.py    which cluster, connecting to it before anything runs
executor.py   the driver: players and replicas started, episodes handed out, results stored
player.py     the actor that plays episodes on a worker and streams them back
replicas.py   in-process (`hf/...`) models as actors reserving GPUs, episodes routed to them
shipping.py   files the driver builds once and the nodes need (the demo EHR)
"""
