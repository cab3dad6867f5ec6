"""The HTTP API of `drdoctor serve` (FastAPI): jobs, their live events (server-sent), their songs, one page.

Requests name no server paths: the model comes from the server's config (`[service] bundle`, else the
workers' [diffrhythm] and [models]); lyrics, reference clips and style vectors are uploaded content or
files inside `[service] input_dirs` (doctor/service/inputs.py). A song is served only from its job's own
folder. With a token (required on any non-loopback address), every route but the page and the API docs
needs `Authorization: Bearer TOKEN` (or `?access_token=TOKEN`, for the page's audio and event stream).
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    StreamingResponse,
)
from pydantic import BaseModel, ConfigDict, Field

from doctor.service import folders, inputs, outcomes, store, submit
from runner.errors import BadInput, RunError

OPEN_PATHS = ("/", "/docs", "/openapi.json", "/docs/oauth2-redirect")


class FileInput(BaseModel):
    """One input file: its content (`text` for lyrics, `data_b64` for bytes) or a path inside an input folder."""
    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    data_b64: str | None = None
    path: str | None = None


class JobRequest(BaseModel):
    """The options of `drdoctor generate` that a client may set."""
    model_config = ConfigDict(extra="forbid")
    style: str | None = Field(None, description="style prompt")
    lyrics: FileInput | None = Field(None, description="LRC (or plain lines); none: instrumental")
    ref_audio: FileInput | None = None
    style_embedding: FileInput | None = None
    length: float | None = Field(None, description="seconds")
    steps: int | None = None
    cfg: float | None = None
    seed: int | None = None
    batch: int | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None
    chunked: bool | None = None
    timeout: float | None = Field(None, description="seconds; past it the job ends as timed_out")
    count: int = Field(1, ge=1, le=100, description="jobs with seeds s, s+1, ...")
    attempts: int = Field(submit.DEFAULT_ATTEMPTS, ge=1, le=10, description="tries after worker deaths")
    fault: list[str] | None = Field(None, description="self-test faults (only with a bundle)")


def _argv(body: JobRequest, config: dict[str, Any]) -> list[str]:
    argv: list[str] = []
    bundle = folders.setting(config, "bundle", None)
    if bundle:
        argv += ["--bundle", str(bundle)]
    elif body.fault:
        raise BadInput("faults are for the self-test bundle only", "leave `fault` out")
    for name in ("style", "length", "steps", "cfg", "seed", "batch", "dtype", "timeout"):
        value = getattr(body, name)
        if value is not None:
            argv += [f"--{name}", str(value)]
    if body.chunked is not None:
        argv.append("--chunked" if body.chunked else "--no-chunked")
    for fault in body.fault or []:
        argv += ["--fault", fault]
    uploads = folders.uploads_root(config)
    limit = int(folders.setting(config, "upload_limit_bytes", inputs.UPLOAD_LIMIT_BYTES))
    for name in ("lyrics", "ref_audio", "style_embedding"):
        given: FileInput | None = getattr(body, name)
        if given is None:
            continue
        if sum(x is not None for x in (given.text, given.data_b64, given.path)) != 1:
            raise BadInput(f"{name}: give exactly one of text, data_b64, path", "e.g. {\"text\": \"[00:01.00] la\"}")
        if given.path is not None:
            path = inputs.from_folders(given.path, folders.input_folders(config))
        elif given.text is not None:
            path = inputs.save_text(name, given.text, uploads, limit)
        else:
            path = inputs.save_upload(name, given.data_b64 or "", uploads, limit)
        argv += [f"--{name.replace('_', '-')}", str(path)]
    return argv


def _bad(exc: RunError) -> JSONResponse:
    """A refused request: 400 for a bad one, 503 when the server's own model folder is missing (exit 3)."""
    status = 400 if isinstance(exc, BadInput) else 503
    return JSONResponse({"error": exc.message, "remedy": exc.remedy, "exit_code": int(exc.code)}, status_code=status)


def _job_or_404(url: str, job_id: int) -> dict[str, Any] | JSONResponse:
    job = store.get_job(url, job_id)
    if job is None:
        return JSONResponse({"error": f"no job {job_id}"}, status_code=404)
    return job


def song_path(config: dict[str, Any], job: dict[str, Any], instance: str) -> Path | None:
    """The job's song, if it lies inside the folder of the job that made it (itself, or the job it was
    answered from by the cache)."""
    if job["state"] not in ("succeeded", outcomes.CACHED) or not job["output"]:
        return None
    owner = job["cached_from"] or job["id"]
    folder = Path(os.path.realpath(folders.job_dir(config, owner, instance)))
    real = Path(os.path.realpath(job["output"]))
    return real if real.is_relative_to(folder) and real.is_file() else None


def create_app(url: str, config: dict[str, Any], token: str | None) -> FastAPI:
    app = FastAPI(title="drdoctor", description="Song jobs: submit, follow, cancel, listen.",
                  version=__import__("doctor").__version__)
    instance = store.instance(url)  # which database: part of its job folders' paths

    @app.middleware("http")
    async def authorize(request: HttpRequest, call_next: Any) -> Any:
        if token is not None and request.url.path not in OPEN_PATHS:
            header = request.headers.get("authorization", "")
            given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("access_token", "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return JSONResponse({"error": "a bearer token is required", "remedy":
                                     "send Authorization: Bearer TOKEN (the token file `drdoctor serve` named)"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("doctor.service").joinpath("page.html").read_text(encoding="utf-8")

    @app.post("/jobs", status_code=201, summary="queue song jobs (or answer them from the result cache)")
    def post_job(body: JobRequest) -> Any:
        try:
            argv = _argv(body, config)
            done = submit.submit(url, argv, body.count, attempts=body.attempts, config=config)
        except RunError as exc:
            return _bad(exc)
        return {"jobs": [{"id": s.job_id, "seed": s.seed, "cached": s.cached, "existing": s.existing} for s in done]}

    @app.get("/jobs", summary="the newest jobs")
    def get_jobs(limit: int = 50, state: str | None = None) -> Any:
        return {"jobs": store.list_jobs(url, min(max(limit, 1), 500), {state} if state else None)}

    @app.get("/jobs/{job_id}", summary="one job")
    def get_job(job_id: int) -> Any:
        return _job_or_404(url, job_id)

    @app.post("/jobs/{job_id}/cancel", summary="cancel a queued job, or stop a running one (SIGINT to its runner)")
    def cancel_job(job_id: int) -> Any:
        job = _job_or_404(url, job_id)
        if isinstance(job, JSONResponse):
            return job
        if not store.cancel(url, job_id):
            return JSONResponse({"error": f"job {job_id} is {job['state']}: nothing to cancel"}, status_code=409)
        return {"id": job_id, "cancel": True}

    @app.get("/jobs/{job_id}/events", summary="the job's runner events as server-sent events, from the start")
    def job_events(job_id: int, request: HttpRequest, after: int = 0) -> Any:
        job = _job_or_404(url, job_id)
        if isinstance(job, JSONResponse):
            return job
        last = request.headers.get("last-event-id")
        start = int(last) if last and last.isdigit() else after

        def stream() -> Iterator[str]:
            for item in store.follow(url, job_id, start):
                event = item["event"]
                yield f"id: {item['id']}\nevent: runner\ndata: {json.dumps({'attempt': item['attempt'], **event})}\n\n"
            final = store.get_job(url, job_id)
            yield f"event: end\ndata: {json.dumps(final, default=str)}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/jobs/{job_id}/audio", summary="the job's song (WAV)")
    def job_audio(job_id: int) -> Any:
        job = _job_or_404(url, job_id)
        if isinstance(job, JSONResponse):
            return job
        path = song_path(config, job, instance)
        if path is None:
            return JSONResponse({"error": f"job {job_id} has no song ({job['state']})"}, status_code=404)
        return FileResponse(path, media_type="audio/wav", filename=f"job-{job_id}.wav")

    return app
