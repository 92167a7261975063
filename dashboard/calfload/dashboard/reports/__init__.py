"""Session reports (``calfload report``): :mod:`.data` gathers, :mod:`.html` renders,
:mod:`.pdf` prints. Sections and their sources: ``docs/reports.md``."""
