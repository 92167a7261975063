"""Lab test protocols: definitions as data, simulated truth, scoring and a runner.

Public interface (see ``docs/protocols.md``):

* :func:`calfload.processing.protocols.definition.resolve` / ``load`` / ``builtin``;
* :func:`calfload.processing.protocols.scoring.score` → :class:`~.results.ProtocolResult`
  (a msgspec struct, JSON-serialisable with ``msgspec.json.encode``);
* :mod:`calfload.processing.protocols.programme` for logs, pain rules and progression.
"""
