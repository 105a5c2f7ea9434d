"""The production topology on one machine (``make stack``): not production code.

Many stateless processes on the production adapters' real wire protocols: the Upstash REST API in
front of a real redis-server, SQS and S3 (moto's server), the vendors' HTTP APIs (stand-ins), API
processes behind a round-robin front, lane workers that behave as Lambda's SQS event source mapping,
and the schedules as EventBridge invokes them. ``stack/supervisor.py`` starts and watches them
(one process: ``stack/children.py``; their environment: ``stack/environment.py``; the state file and
the summary: ``stack/summary.py``; restarts: ``stack/restarts.py``);
``stack/declarations.py`` reads what to create from ``infra/`` and ``.chalice/config.json``;
docs/operations.md maps each part to the deployment.
"""
