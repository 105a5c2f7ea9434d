"""``python -m costmodel``: the cost model's command line (``make cost`` writes docs/cost.md)."""

import sys

from costmodel.cli import main

sys.exit(main())
