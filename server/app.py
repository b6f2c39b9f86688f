"""``modeldb server``: MLflow's tracking REST API, on Starlette, writing our events, reading our warehouse.

Point any MLflow client at it (``MLFLOW_TRACKING_URI=http://host:5000``) and it logs into ModelDB:
experiments are projects, runs are runs, params, metrics and tags are our events (see
``server/runs.py``). Endpoints are served under ``/api/2.0/`` and ``/ajax-api/2.0/``, as MLflow
serves them.

Bad input gets MLflow's own answer: ``{"error_code": "INVALID_PARAMETER_VALUE", "message": …}`` with
MLflow's HTTP status, which the client raises as ``MlflowException``. A request body over
``MAX_REQUEST_BYTES`` is refused before it is read whole, an unknown endpoint is
``ENDPOINT_NOT_FOUND``, and an error of the server itself is ``INTERNAL_ERROR`` with no traceback
(the traceback goes to the server's log).
"""
from __future__ import annotations

import contextlib
import json
import logging
from typing import Any, AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from modeldb.core.config import Settings
from modeldb.core.events import now_micros, uuid7
from modeldb.producers.artifacts import ArtifactStore
from modeldb.server import protocol as p
from modeldb.server.artifacts import Artifacts
from modeldb.server.events import Writer
from modeldb.server.experiments import Experiments, experiment_json
from modeldb.server.reader import Reader
from modeldb.server.runs import Runs
from modeldb.server.search import search_experiments, search_runs
from modeldb.warehouse.queries import mlflow_runs

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16 * 1024 ** 2
API_VERSION = "3.17.2"  # the MLflow whose client the differential tests run (bench/mlflow_venv.sh)
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class Server:
    """The server's parts, built once: the writer, the reader, experiments, runs and artifacts."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.writer = Writer(settings)
        self.reader = Reader(settings, self.writer)
        self.experiments = Experiments(settings.home / "mlflow" / "experiments.json", settings.project,
                                       lambda: self.reader.read(mlflow_runs.projects))
        self.runs = Runs(self.writer, self.reader, self.experiments)
        self.artifacts = Artifacts(ArtifactStore.from_settings(settings).root, self._stored)

    def _stored(self, run_id: str, name: str, uri: str, size: int, checksum: str) -> None:
        target = self.runs.known(run_id).target
        self.writer.emit(target, "ArtifactStored", {"artifact_id": uuid7(), "name": name, "uri": uri,
                                                    "format": "mlflow", "size_bytes": size, "checksum": checksum})

    def close(self) -> None:
        self.writer.close()
        self.reader.close()

    # -- experiments ---------------------------------------------------------------------
    def create_experiment(self, body: dict[str, Any]) -> dict[str, Any]:
        name = p.text(body, "name")
        tags = {item["key"]: item["value"] for item in body.get("tags") or [] if isinstance(item, dict)}
        return {"experiment_id": self.experiments.create(name, tags)}

    def get_experiment(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"experiment": experiment_json(self.experiments.get(p.text(body, "experiment_id")))}

    def experiment_by_name(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"experiment": experiment_json(self.experiments.by_name(p.text(body, "experiment_name")))}

    def update_experiment(self, body: dict[str, Any]) -> dict[str, Any]:
        self.experiments.rename(p.text(body, "experiment_id"), p.text(body, "new_name"))
        return {}

    def experiment_stage(self, stage: str) -> Handler:
        def change(body: dict[str, Any]) -> dict[str, Any]:
            self.experiments.set_stage(p.text(body, "experiment_id"), stage)
            return {}
        return change

    def experiment_tag(self, body: dict[str, Any]) -> dict[str, Any]:
        key = p.key(body.get("key"), "tag")
        self.experiments.set_tag(p.text(body, "experiment_id"), key,
                                 p.value_text(body.get("value"), "tag", key, 20_000))
        return {}

    # -- runs ------------------------------------------------------------------------------
    def get_run(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.runs.get(p.text(body, "run_id", required=False) or p.text(body, "run_uuid"))

    def history(self, body: dict[str, Any]) -> dict[str, Any]:
        run_id = p.text(body, "run_id", required=False) or p.text(body, "run_uuid")
        return self.runs.history(run_id, p.text(body, "metric_key"))

    @staticmethod
    def delete_tag(body: dict[str, Any]) -> dict[str, Any]:
        raise p.MlflowError("NOT_IMPLEMENTED", "delete-tag is not supported: ModelDB's events never remove a "
                            "tag; set it to a new value instead")

    @staticmethod
    def logged_models(body: dict[str, Any]) -> dict[str, Any]:
        raise p.MlflowError("NOT_IMPLEMENTED", "logged models (MLflow 3's log_model) are not supported by modeldb "
                            "server: log the model as an artifact, or use autolog(log_models=False)")

    def routes(self) -> dict[tuple[str, str], Handler]:
        r = self.runs
        table = {
            ("POST", "experiments/create"): self.create_experiment,
            ("GET", "experiments/get"): self.get_experiment,
            ("GET", "experiments/get-by-name"): self.experiment_by_name,
            ("POST", "experiments/search"): lambda body: search_experiments(self.experiments, body),
            ("GET", "experiments/search"): lambda body: search_experiments(self.experiments, body),
            ("POST", "experiments/update"): self.update_experiment,
            ("POST", "experiments/delete"): self.experiment_stage("deleted"),
            ("POST", "experiments/restore"): self.experiment_stage("active"),
            ("POST", "experiments/set-experiment-tag"): self.experiment_tag,
            ("POST", "runs/create"): r.create,
            ("POST", "runs/update"): r.update,
            ("GET", "runs/get"): self.get_run,
            ("POST", "runs/delete"): lambda body: r.set_stage(body, "deleted"),
            ("POST", "runs/restore"): lambda body: r.set_stage(body, "active"),
            ("POST", "runs/log-metric"): r.log_metric,
            ("POST", "runs/log-parameter"): r.log_param,
            ("POST", "runs/set-tag"): r.set_tag,
            ("POST", "runs/delete-tag"): self.delete_tag,
            ("POST", "runs/log-batch"): r.log_batch,
            ("POST", "runs/log-model"): r.log_model,
            ("POST", "runs/log-inputs"): r.log_inputs,
            ("POST", "runs/search"): lambda body: search_runs(self.reader, self.experiments, body),
            ("GET", "metrics/get-history"): self.history,
            # MLflow 3's logged models: none are kept (autolog(log_models=False); README), so a search finds none.
            ("POST", "logged-models/search"): lambda body: {},
            ("POST", "logged-models"): self.logged_models,
        }
        return {(method, f"/{prefix}/2.0/mlflow/{path}"): handler
                for (method, path), handler in table.items() for prefix in ("api", "ajax-api")}


def _error(exc: p.MlflowError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _body(request: Request) -> dict[str, Any]:
    """A POST's JSON object, or a GET's query (a repeated key is a list, as MLflow's client sends lists)."""
    if request.method == "GET":
        body: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            body[key] = [*body[key], value] if isinstance(body.get(key), list) else (
                [body[key], value] if key in body else value)
        return body
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_REQUEST_BYTES:
            raise p.MlflowError("REQUEST_LIMIT_EXCEEDED", f"The request body is larger than {MAX_REQUEST_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise p.invalid("The request body is not valid JSON") from None
    if isinstance(body, str):  # older clients post their JSON encoded twice
        body = json.loads(body)
    if not isinstance(body, dict):
        raise p.invalid("The request body must be a JSON object")
    return body


def build(settings: Settings) -> Starlette:
    server = Server(settings)
    handlers = server.routes()

    async def api(request: Request) -> Response:
        handler = handlers.get((request.method, request.url.path))
        if handler is None:
            return _error(p.MlflowError("ENDPOINT_NOT_FOUND", f"No endpoint {request.method} {request.url.path}"))
        try:
            declared = int(request.headers.get("content-length") or 0)
            if declared > MAX_REQUEST_BYTES:
                raise p.MlflowError("REQUEST_LIMIT_EXCEEDED", f"The request body is larger than {MAX_REQUEST_BYTES} bytes")
            body = await _body(request)
            return JSONResponse(await run_in_threadpool(handler, body))
        except p.MlflowError as exc:
            return _error(exc)
        except Exception:  # noqa: BLE001 - the client gets INTERNAL_ERROR, the log gets the traceback
            log.exception("modeldb server: %s %s failed", request.method, request.url.path)
            return _error(p.MlflowError("INTERNAL_ERROR", "internal error (the server's log has the details)"))

    async def artifact(request: Request) -> Response:
        relative = request.path_params.get("path", "")
        try:
            if request.method == "PUT":
                return JSONResponse(await server.artifacts.upload(relative, request.stream()))
            if request.method == "GET" and relative:
                return FileResponse(await run_in_threadpool(server.artifacts.file, relative))
            if request.method == "GET":
                return JSONResponse(await run_in_threadpool(server.artifacts.listing,
                                                            request.query_params.get("path", "")))
            raise p.MlflowError("NOT_IMPLEMENTED", f"{request.method} of artifacts is not supported by modeldb server")
        except p.MlflowError as exc:
            return _error(exc)
        except Exception:  # noqa: BLE001
            log.exception("modeldb server: %s %s failed", request.method, request.url.path)
            return _error(p.MlflowError("INTERNAL_ERROR", "internal error (the server's log has the details)"))

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    routes = [
        Route("/health", lambda request: PlainTextResponse("OK")),
        Route("/version", lambda request: PlainTextResponse(API_VERSION)),
        Route("/api/2.0/mlflow-artifacts/artifacts", artifact, methods=methods),
        Route("/api/2.0/mlflow-artifacts/artifacts/{path:path}", artifact, methods=methods),
        Route("/{rest:path}", api, methods=methods),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        server.close()  # drains the emitter: everything answered is written (or spilled)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.server = server
    app.state.started = now_micros()
    return app
