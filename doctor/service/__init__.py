"""The generation service: durable jobs in Postgres (Procrastinate), a worker per GPU, an HTTP API.

database (where the jobs live) -> schema (Procrastinate's + ours) -> submit (validated requests, cache) ->
worker (one runner run per job, events into the database) -> http (the API and the page). Torch-free.
"""
