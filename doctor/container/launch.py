"""Run the runner in the image: create, attach, start, stream events, stop on Ctrl-C, remove.

The container's exit status is the runner's exit code (DESIGN.md) and is returned as is. Ctrl-C (or
SIGTERM to drdoctor) sends SIGINT to the runner, waits `stop_timeout` seconds for it to finish its
events and exit (130), then kills it. The container is removed in every case; the run folder stays,
since it lives in the mounted output folder.
"""

from __future__ import annotations

import codecs
import queue
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from runner import hub_env
from runner.events import ExitCode, decode

from doctor.container.problems import DockerProblem, api_error_text, gpu_refused, is_gpu_refusal
from doctor.container.request import ContainerRequest

_EOF = object()


@dataclass
class RunResult:
    code: int
    container: str
    run_id: str | None = None
    interrupted: bool = False
    killed: bool = False
    events: int = 0
    finished: bool = False  # a run_finished event came


def gpu_request(device_ids: list[str] | None = None):
    """The SDK's form of `docker run --gpus all`, or of `--gpus device=N` for the GPUs in `device_ids`."""
    from docker.types import DeviceRequest

    if device_ids:
        return [DeviceRequest(device_ids=list(device_ids), capabilities=[["gpu"]])]
    return [DeviceRequest(count=-1, capabilities=[["gpu"]])]


def _pump(stream, sink: Callable[[bytes], None]) -> None:
    try:
        for chunk in stream:
            sink(chunk)
    except Exception:  # the container was removed under us: the stream just ends
        pass


class _Lines:
    def __init__(self, q: "queue.Queue[Any]"):
        self.q, self.buf = q, b""

    def __call__(self, chunk: bytes) -> None:
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            self.q.put(line)

    def close(self) -> None:
        if self.buf:
            self.q.put(self.buf)
        self.q.put(_EOF)


def run(client, image: str, creq: ContainerRequest, view, *, gpu: bool = True, user: str | None = None,
        stop_timeout: float = 10.0, stderr: TextIO | None = None, name: str | None = None,
        environment: dict[str, str] | None = None, gpu_devices: list[str] | None = None) -> RunResult:
    import docker

    stderr = stderr or sys.stderr
    name = name or f"drdoctor-run-{secrets.token_hex(4)}"
    # network_mode none: no look-up could succeed, so offline whatever the config says (runner.hub_env's rule)
    env = {**hub_env.variables(network=False), "PYTHONUNBUFFERED": "1", **(environment or {})}
    try:
        container = client.containers.create(
            image, command=creq.args, name=name, mounts=creq.docker_mounts(), network_mode="none",
            device_requests=gpu_request(gpu_devices) if gpu else None, user=user, environment=env,
            labels={"drdoctor.run": "generate"}, detach=True, stdin_open=False, tty=False,
        )
    except docker.errors.ImageNotFound:
        raise DockerProblem(
            "image", f"image {image} is not on this engine",
            f"`drdoctor container pull {image}` or `drdoctor container build --tag {image}`",
        ) from None
    except docker.errors.APIError as exc:
        raise DockerProblem("engine", f"cannot create the container from {image}: {api_error_text(exc)}",
                            "see `drdoctor container status`") from None

    if creq.uploads:
        try:
            container.put_archive("/", creq.upload_archive())
        except docker.errors.APIError as exc:
            container.remove(force=True)
            raise DockerProblem("engine", f"cannot copy the input files into the container: {api_error_text(exc)}",
                                "see `drdoctor container status`") from None
    result = RunResult(code=int(ExitCode.FAILURE), container=name)
    previous_term = None
    try:
        if threading.current_thread() is threading.main_thread():
            previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        lines: "queue.Queue[Any]" = queue.Queue()
        out_sink = _Lines(lines)
        out_stream = container.attach(stdout=True, stderr=False, stream=True, logs=True)
        err_stream = container.attach(stdout=False, stderr=True, stream=True, logs=True)

        def out_worker() -> None:
            _pump(out_stream, out_sink)
            out_sink.close()

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def err_sink(chunk: bytes) -> None:  # a character may be split between two chunks
            stderr.write(decoder.decode(chunk))
            stderr.flush()

        threading.Thread(target=out_worker, daemon=True).start()
        err_thread = threading.Thread(target=_pump, args=(err_stream, err_sink), daemon=True)
        err_thread.start()
        try:
            container.start()
        except docker.errors.APIError as exc:
            if gpu and is_gpu_refusal(exc):
                raise gpu_refused(image) from None
            raise DockerProblem("engine", f"the engine could not start {image}: {api_error_text(exc)}",
                                "see `drdoctor container status`") from None

        try:
            _stream(lines, view, result, stderr)
        except KeyboardInterrupt:
            result.interrupted = True
            _stop(container, lines, view, result, stop_timeout, stderr)
        status = _wait(container)
        if result.interrupted:
            result.code = status if status in (int(ExitCode.OK), int(ExitCode.CANCELLED)) else int(ExitCode.CANCELLED)
        else:
            result.code = status
        err_thread.join(timeout=2)
        return result
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            stderr.write(f"drdoctor: could not remove container {name}: {api_error_text(exc)}\n")


def _raise_interrupt(signum, frame):  # SIGTERM to drdoctor: stop the container like Ctrl-C
    raise KeyboardInterrupt


def _handle(line: bytes, view, result: RunResult, stderr: TextIO) -> None:
    event = decode(line)
    if event is None:
        if line.strip():  # the runner never does this; keep stdout for events and show it aside
            stderr.write("[runner stdout] " + line.decode("utf-8", errors="replace") + "\n")
        return
    result.events += 1
    if event.get("type") == "run_started" and isinstance(event.get("run"), str):
        result.run_id = event["run"]
    elif event.get("type") == "run_finished":
        result.finished = True
    raw = getattr(view, "raw", None)
    if callable(raw):
        raw(line)
    else:
        view.feed(event)


def _stream(lines, view, result: RunResult, stderr: TextIO) -> None:
    while True:
        try:
            item = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if item is _EOF:
            return
        _handle(item, view, result, stderr)


def _stop(container, lines, view, result: RunResult, stop_timeout: float, stderr: TextIO) -> None:
    import docker

    stderr.write(f"\ndrdoctor: interrupted; asking the runner to stop (SIGINT, {stop_timeout:g} s)...\n")
    stderr.flush()
    try:
        container.kill(signal="SIGINT")
    except docker.errors.APIError:
        pass  # already exited
    deadline = time.monotonic() + stop_timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if item is _EOF:
                return
            _handle(item, view, result, stderr)
    except KeyboardInterrupt:
        stderr.write("drdoctor: second interrupt: killing the container now\n")
    result.killed = True
    stderr.write(f"drdoctor: the runner did not stop in time; killing container {result.container}\n")
    try:
        container.kill()
    except docker.errors.APIError:
        pass


def _wait(container, timeout: float = 30.0) -> int:
    import docker
    import requests

    try:
        return int(container.wait(timeout=timeout).get("StatusCode", 1))
    except (docker.errors.APIError, requests.exceptions.RequestException):
        return int(ExitCode.FAILURE)


def finish_view(view) -> None:
    close = getattr(view, "close", None)
    if callable(close):
        close()
