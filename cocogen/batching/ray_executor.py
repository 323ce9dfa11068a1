"""The Ray executor: the same batch on a Ray cluster (`pip install 'cocogen[ray]'`).

Rendering runs as Ray tasks on CPU nodes: each task plans (when the row has no program), renders
in that node's sandbox (a warm pool per Ray worker process, kept between tasks), checks and
builds the run dir in a local temp dir, and returns its files.  Refining runs on an actor pool
on GPU nodes: each actor keeps its refiner (and the loaded model) between rows and gets only the
draft, its manifest and check report.  Results stream back as they finish; only the driver
writes the batch directory (run dirs renamed into place whole, then the results line), so the
crash-safety and resume rules are the local ones and the workers need no shared filesystem.

`--ray-address` or `RAY_ADDRESS` picks the cluster; without either a local Ray is started for
the batch with `--workers` CPUs.  Nodes need cocogen installed (the same version) and, for
planned rows, the LLM key in their environment: keys are never shipped from the driver.
`COCOGEN_*` settings of the driver are passed to the tasks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cocogen.batching.execute import error_result, finish_row
from cocogen.batching.model import BatchRow, RowResult
from cocogen.batching.options import BatchOptions
from cocogen.batching.runners import make_runner, refiner_name
from cocogen.batching.store import Layout
from cocogen.errors import CocogenError, UsageError
from cocogen.record import RunDir, atomic_write, dump
from cocogen.result import Result
from cocogen.types import RunRecord

_WORKER: dict[Any, Any] = {}


def _config(options: BatchOptions) -> dict[str, Any]:
    """What a task needs to build its pipeline: plain JSON (no live objects cross the wire)."""
    return {
        "backend": options.backend if isinstance(options.backend, str) else None,
        "backend_object": None if isinstance(options.backend, str | None) else options.backend,
        "max_attempts": options.max_attempts,
        "overlays": options.overlays,
        "check_settings": options.check_settings.model_dump(mode="json"),
        "limits": None if options.limits is None else dataclasses.asdict(options.limits),
    }


def _pipeline(config: dict[str, Any], planned: bool) -> Any:
    """This worker process's pipeline: one warm sandbox worker, kept between tasks."""
    from cocogen.checking import CheckSettings
    from cocogen.pipeline import Pipeline
    from cocogen.registry import load_backend
    from sandbox.wire import Limits

    key = (planned, repr(sorted((k, repr(v)) for k, v in config.items())))
    pipeline = _WORKER.get(key)
    if pipeline is None:
        if "runner" not in _WORKER:
            _WORKER["runner"] = make_runner(1)[0]
        backend = None
        if planned:
            given = config.get("backend_object")
            backend = given if given is not None else load_backend(config["backend"])
        pipeline = Pipeline(
            backend=backend,
            runner=_WORKER["runner"],
            check_settings=CheckSettings.model_validate(config["check_settings"]),
            max_attempts=config["max_attempts"],
            limits=Limits(**config["limits"]) if config["limits"] else None,
            overlays=config["overlays"],
        )
        _WORKER[key] = pipeline
    return pipeline


def render_bundle(row_json: str, config: dict[str, Any]) -> dict[str, Any]:
    """A Ray task: plan, render and check one row (never refine) and return its run dir's files."""
    row = BatchRow.model_validate_json(row_json)
    pipeline = _pipeline(config, row.program is None)
    request = row.request.model_copy(update={"refine": None})
    scratch = Path(tempfile.mkdtemp(prefix="cocogen-ray-row-"))
    try:
        run_dir = scratch / row.name
        try:
            if row.program is not None:
                result = pipeline.render(row.program, request, run_dir=run_dir)
            else:
                result = pipeline.generate(request, run_dir=run_dir)
        except CocogenError as exc:
            return {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - reported as the row's error
            return {"error": f"{type(exc).__name__}: {exc}"}
        files = {
            path.relative_to(run_dir).as_posix(): path.read_bytes()
            for path in sorted(run_dir.rglob("*"))
            if path.is_file()
        }
        return {"result": result.model_dump_json(), "files": files, "node": os.uname().nodename}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class RefineWorker:
    """A Ray actor: refines drafts with refiners it keeps loaded between rows."""

    def __init__(self, check_settings: dict[str, Any]) -> None:
        from cocogen.checking import CheckSettings

        self.settings = CheckSettings.model_validate(check_settings)
        self.refiners: dict[str, Any] = {}

    def refine(self, payload: dict[str, Any]) -> dict[str, Any]:
        from cocogen.planning.commitments import extract_commitments
        from cocogen.registry import load_refiner
        from cocogen.types import CheckReport, Commitments, LayoutManifest, Request
        from refiners.stage import refine_draft, validate, write_files

        started = time.perf_counter()
        request = Request.model_validate_json(payload["request"])
        options = request.refine
        assert options is not None
        try:
            name = refiner_name(options)
            if name not in self.refiners:
                self.refiners[name] = load_refiner(name)
            refiner = self.refiners[name]
            validate(refiner, options)
            report = payload.get("report")
            outcome = refine_draft(
                refiner,
                payload["png"],
                LayoutManifest.model_validate_json(payload["manifest"]),
                request,
                options,
                commitments=extract_commitments(request.prompt)
                if request.prompt
                else Commitments(),
                draft_report=CheckReport.model_validate_json(report) if report else None,
                settings=self.settings,
            )
        except CocogenError as exc:
            return {"error": str(exc)}
        files: dict[str, bytes] = {}

        def collect(relative: str, data: bytes | str) -> str:
            files[relative] = data.encode("utf-8") if isinstance(data, str) else data
            return relative

        write_files(outcome, collect)
        return {
            "final_png": outcome.final_png,
            "record": outcome.record,
            "files": files,
            "refine_s": time.perf_counter() - started,
        }


def refine_payload(row: BatchRow, files: dict[str, bytes]) -> dict[str, Any] | None:
    """What the refiner needs from a rendered row; None when there is no draft to refine."""
    if "final.png" not in files:
        return None
    record = RunRecord.model_validate_json(files["run.json"])
    if record.final_attempt is None:
        return None
    base = f"attempt-{record.final_attempt}"
    check = files.get(f"{base}/check.json")
    return {
        "request": row.request.model_dump_json(),
        "png": files["final.png"],
        "manifest": files[f"{base}/manifest.json"].decode("utf-8"),
        "report": check.decode("utf-8") if check else None,
    }


def merge_refined(row: BatchRow, files: dict[str, bytes], refined: dict[str, Any]) -> None:
    """Fold the refine step into the run dir's files as the pipeline's record step would."""
    record = RunRecord.model_validate_json(files["run.json"])
    timings = dict(record.timings)
    refine_s = round(float(refined["refine_s"]), 4)
    timings["refine_s"] = refine_s
    timings["total_s"] = round(timings.get("total_s", 0.0) + refine_s, 4)
    request_json = row.request.model_dump_json()
    record = record.model_copy(
        update={
            "request": row.request,
            "refine": refined["record"],
            "timings": timings,
            "cache_keys": {
                **record.cache_keys,
                "request": hashlib.sha256(request_json.encode("utf-8")).hexdigest(),
            },
        }
    )
    files.update(refined["files"])
    files["final.png"] = refined["final_png"]
    files["request.json"] = dump(row.request).encode("utf-8")
    files["run.json"] = dump(record).encode("utf-8")


def write_bundle(
    layout: Layout, row: BatchRow, bundle: dict[str, Any], started: float
) -> RowResult:
    """Write a row that ran elsewhere: run dir (renamed into place whole), image, thumbnail."""
    files: dict[str, bytes] = bundle["files"]
    out = RunDir(layout.run_dir(row.name))
    try:
        for relative, data in files.items():
            out.write(relative, data)
        out.commit()
    except BaseException:
        out.abandon()
        raise
    result = Result.model_validate_json(bundle["result"])
    if "final.png" in files:
        atomic_write(layout.image(row.name), files["final.png"])
    else:
        result = result.model_copy(update={"image": None})
    return finish_row(layout, row, result, started)


class RayExecutor:
    name = "ray"
    runner_kind = "ray"

    def __init__(self, options: BatchOptions) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'cocogen[ray]'") from None
        self.options = options
        self.ray = ray
        self._started_ray = False
        address = options.ray_address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            env_vars = {k: v for k, v in os.environ.items() if k.startswith("COCOGEN_")}
            ray.init(
                address=address,
                num_cpus=None if address else options.workers,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                runtime_env={"env_vars": env_vars} if env_vars else None,
            )
            self._started_ray = True
        resources = ray.cluster_resources()
        self.cpus = max(1, int(resources.get("CPU", 1)))
        self.gpus = int(resources.get("GPU", 0))
        self._render = ray.remote(num_cpus=1)(render_bundle)
        self._actors: list[Any] = []
        self._next_actor = 0

    def _actor(self) -> Any:
        if not self._actors:
            gpus = self.options.ray_refine_gpus
            if gpus is None:
                gpus = 1 if self.gpus else 0
            count = self.options.ray_refine_actors or max(1, self.gpus)
            actor_class = self.ray.remote(num_gpus=gpus, num_cpus=0 if gpus else 1)(RefineWorker)
            settings = self.options.check_settings.model_dump(mode="json")
            self._actors = [actor_class.remote(settings) for _ in range(count)]
        actor = self._actors[self._next_actor % len(self._actors)]
        self._next_actor += 1
        return actor

    def run(self, rows: Sequence[BatchRow], layout: Layout) -> Iterator[RowResult]:
        ray = self.ray
        config = _config(self.options)
        config_ref = ray.put(config)
        window = 2 * self.cpus + 2
        queue = iter(rows)
        pending: dict[Any, tuple[str, BatchRow, float, dict[str, Any] | None]] = {}

        def refill() -> None:
            while len(pending) < window:
                row = next(queue, None)
                if row is None:
                    return
                ref = self._render.remote(row.model_dump_json(), config_ref)
                pending[ref] = ("render", row, time.perf_counter(), None)

        try:
            refill()
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                kind, row, started, bundle = pending.pop(ready[0])
                try:
                    value = ray.get(ready[0])
                except Exception as exc:  # noqa: BLE001 - a lost task or node: the row's error
                    yield error_result(
                        row, layout, f"ray: {type(exc).__name__}: {exc}", None, started
                    )
                    refill()
                    continue
                if value.get("error"):
                    yield error_result(row, layout, value["error"], None, started)
                elif kind == "render" and row.request.refine is not None:
                    payload = refine_payload(row, value["files"])
                    if payload is None:
                        yield write_bundle(layout, row, value, started)
                    else:
                        ref = self._actor().refine.remote(payload)
                        pending[ref] = ("refine", row, started, value)
                else:
                    if kind == "refine":
                        assert bundle is not None
                        merge_refined(row, bundle["files"], value)
                        value = bundle
                    yield write_bundle(layout, row, value, started)
                refill()
        finally:
            for ref, (kind, *_rest) in pending.items():
                try:
                    ray.cancel(ref, force=kind == "render")
                except Exception:  # noqa: BLE001 - best effort: the rows stay pending
                    pass

    def close(self) -> None:
        for actor in self._actors:
            self.ray.kill(actor)
        self._actors = []
        if self._started_ray:
            self.ray.shutdown()
