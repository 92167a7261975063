"""The recorder: every session on disk, one SQLite file (WAL) per athlete session.

* :mod:`.messages` — the control, state and marker messages the recorder owns (MQTT);
* :mod:`.blobs` — the per-second sample blob layout (pure);
* :mod:`.store` — the session database: schema, writes, reads, listing;
* :mod:`.jumps` — sync-jump detection from both insoles (pure);
* :mod:`.recorder` — the MQTT process (``calfload record``);
* :mod:`.export` — a session as the calfload recording format (CSV / Parquet).

Layout of the files: ``docs/formats.md``, "calfload session database".
"""
