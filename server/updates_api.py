"""The TUF repository over the kiosks' mTLS API: ``GET /v1/updates/metadata/{file}`` and
``GET /v1/updates/targets/{file}``.  Files only, served as they are: their trust comes from the signatures inside
them, which the kiosk checks, never from this server.  An unenrolled or revoked kiosk is refused like on every
other kiosk endpoint; a file name is one path component (no traversal)."""

import re
from pathlib import Path

from fastapi.responses import FileResponse

from server.errors import ApiError

PATH_METADATA = "/v1/updates/metadata/{name}"
PATH_TARGETS = "/v1/updates/targets/{name}"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def repository_file(repository: Path | None, folder: str, name: str) -> FileResponse:
    if repository is None:
        raise ApiError(404, "not_found", "this server publishes no kiosk updates ([updates] repository)")
    if not _NAME.fullmatch(name) or ".." in name:
        raise ApiError(404, "not_found", "no such file")
    path = repository / folder / name
    if not path.is_file():
        raise ApiError(404, "not_found", "no such file")
    media = "application/json" if name.endswith(".json") else "application/octet-stream"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-store"})


def add_routes(app, kiosk_dependency, svc_dependency) -> None:
    @app.get(PATH_METADATA, include_in_schema=False)
    def update_metadata(kiosk: kiosk_dependency, svc: svc_dependency, name: str) -> FileResponse:
        return repository_file(svc.config.updates_repository, "metadata", name)

    @app.get(PATH_TARGETS, include_in_schema=False)
    def update_target(kiosk: kiosk_dependency, svc: svc_dependency, name: str) -> FileResponse:
        return repository_file(svc.config.updates_repository, "targets", name)
