"""Workers: SQS lane handlers, schedules and webhook receivers (registered as blueprints).

Each lane and scheduled function is deployed with its own handler string
(``chalicelib.workers.lanes.lane_free``, ``chalicelib.workers.reaper.reap``, ...): Lambda imports
that module, never ``app.py``. So what ``app.py`` sets up for every container is set up here too,
or those functions would log plain text at WARNING only (found by the stack's lane workers, which
import handlers as Lambda does).
"""

import os

from chalicelib.observability.logs import configure_logging

os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # as app.py: no plugin scan per cold start
configure_logging()
