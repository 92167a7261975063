"""``python -m calfload.cli``: the same as the ``calfload`` command."""

import sys

from calfload.cli.main import main

sys.exit(main())
