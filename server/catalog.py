"""The projects a server offers, by name: project.toml read on demand and re-read when it changes.

The app is configured with project folders; a project's URL name is the `name` of its
project.toml (the folder name when it has none). Nothing is read when the catalog is made:
each project.toml is read on first use and again whenever its size or mtime changes, so
editing a project's states shows up without restarting the server. A project.toml that
cannot be read is listed with its error, and requests to it answer 422 with that error.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from twin.errors import ProjectError, TwinError
from twin.project import Project, is_project_path, load_project


def file_stamp(path: Path | None) -> tuple[str, int, int] | None:
    """(path, size, mtime in ns) of a file, the fingerprint of its content for cache keys;
    None for no file. A missing file gets (path, -1, -1), so its appearance changes the stamp."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), stat.st_size, stat.st_mtime_ns)


@dataclass
class _Entry:
    folder: Path
    stamp: tuple | None = None
    project: Project | None = None
    error: TwinError | None = None


class UnknownProject(LookupError):
    """No configured project has this name."""


class ProjectCatalog:
    """Project folders by URL name, with each project.toml read lazily and re-read on change."""

    def __init__(self, folders: list[str | Path]) -> None:
        entries = []
        for folder in folders:
            path = Path(folder).resolve()
            if path.name == "project.toml":
                path = path.parent
            if not is_project_path(path):
                raise ProjectError(f"{folder}: not a project (a folder with a project.toml)")
            entries.append(_Entry(folder=path))
        self._entries = entries
        self._lock = threading.Lock()

    def add(self, folder: str | Path) -> None:
        """Offer one more project folder (a registered or uploaded project), unless already offered.
        Not checked here: a folder that has gone is listed with its error, not fatal."""
        path = Path(folder).resolve()
        with self._lock:
            if all(entry.folder != path for entry in self._entries):
                self._entries.append(_Entry(folder=path))

    def folders(self) -> list[Path]:
        with self._lock:
            return [entry.folder for entry in self._entries]

    def _refresh(self, entry: _Entry) -> None:
        stamp = file_stamp(entry.folder / "project.toml")
        if stamp == entry.stamp:
            return
        try:
            entry.project, entry.error = load_project(entry.folder), None
        except TwinError as exc:
            entry.project, entry.error = None, exc
        entry.stamp = stamp

    def listing(self) -> list[tuple[str, Project | None, TwinError | None]]:
        """(URL name, project or None, its error or None) of every configured project, in order."""
        with self._lock:
            out = []
            for entry in self._entries:
                self._refresh(entry)
                name = entry.project.name if entry.project is not None else entry.folder.name
                out.append((name, entry.project, entry.error))
            return out

    def get(self, name: str) -> Project:
        """The project of this URL name; UnknownProject if none, its TwinError if it is broken."""
        matches = [(project, error) for url_name, project, error in self.listing() if url_name == name]
        if not matches:
            raise UnknownProject(name)
        if len(matches) > 1:
            raise ProjectError(f"two configured projects are named {name!r}; rename one in its project.toml")
        project, error = matches[0]
        if error is not None:
            raise error
        return project

    def names(self) -> list[str]:
        return [name for name, _, _ in self.listing()]
