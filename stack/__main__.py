"""``python -m stack``: see ``stack/supervisor.py``."""

import sys

from stack.supervisor import main

sys.exit(main())
