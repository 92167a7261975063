"""The ``calfload`` command: wires the sub-commands of bridge, processing and dashboard.

It sits at the top of the dependency chain (bridge ← processing ← dashboard ← cli) and holds
no feature of its own except ``calfload demo``, which runs all parts together.
"""
