"""Shared pieces of content loading: the error that stops a load, the report
of what changed, and front-matter / YAML parsing with line numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ContentError(Exception):
    """Bad content: names the file, the line (when known) and the reason."""

    def __init__(self, path: Path | str, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


@dataclass
class LoadReport:
    """What a load did, per kind of content ("lessons", "questions", "exercises")."""

    added: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, object] = field(default_factory=dict)

    def note(self, kind: str, outcome: str, key: str) -> None:
        getattr(self, outcome).setdefault(kind, []).append(key)


def read_yaml(path: Path, text: str | None = None, first_line: int = 1):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8") if text is None else text)
    except UnicodeDecodeError as exc:
        raise ContentError(path, None, f"not valid UTF-8 ({exc.reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark else None
        raise ContentError(path, line, f"invalid YAML: {getattr(exc, 'problem', exc)}") from None


_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def split_front_matter(path: Path) -> tuple[dict, str, int]:
    """Return (front matter, body, line number where the body starts)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(path, None, f"not valid UTF-8 ({exc.reason})") from None
    match = _FRONT.match(text)
    if not match:
        raise ContentError(path, 1, "missing front matter: the file must start with a '---' block")
    meta = read_yaml(path, match.group(1), first_line=2)
    if not isinstance(meta, dict):
        raise ContentError(path, 2, "front matter must be a mapping of keys to values")
    body_line = match.group(0).count("\n") + 1
    return meta, text[match.end() :], body_line


def slugify_heading(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
