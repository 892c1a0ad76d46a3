"""``python -m pipeline.cli``: the same as the ``newsflow`` command."""

import sys

from pipeline.entry import main

sys.exit(main())
