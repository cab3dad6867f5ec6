"""The CUDA container: find the engine, report its state, pull/build the image, run generation in it.

One idea per module:
  endpoint.py  which engine to talk to (flag, DOCKER_HOST, docker contexts) and connecting to it
  problems.py  engine failures -> one message and its remedy (daemon down, permissions, WSL, no GPU runtime)
  status.py    facts about the engine and the image, and their rendering
  progress.py  per-layer progress of pulls and builds, on a terminal or as JSON lines
  images.py    pull and build (the CUDA flavours are the family's locked CUDA variants)
  request.py   `run generate` arguments -> mounts and the runner's arguments inside the container
  launch.py    create, start, stream, stop on Ctrl-C, remove
  view.py      where the runner's events go: the shared run renderer or raw JSON lines
Only the Docker SDK talks to the engine; the docker CLI is never run.
"""
