"""Label sets: the themes a model can assign, their definitions and a version.

A label set lives in a small TOML file so that any user can bring their own::

    name = "central-asia-extremism"
    version = "1"
    [[themes]]
    name = "recruitment"
    definition = "drawing people into extremist or terrorist groups ..."

A label set other than themes names its labels ``[[labels]]`` and the annotation column that
holds them (``column = "narratives"``), so one annotation file can carry several label sets,
each in its own column. Label names are lowercase identifiers (letters, digits, ``_`` and
``-``); their order in the file is the order of score columns everywhere. (In the code a label
of any label set is a ``Theme``, after the first label set.)
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classify.errors import ClassifyError

_THEME_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
DEFAULT_COLUMN = "themes"


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    definition: str = ""


@dataclass(frozen=True, slots=True)
class LabelSet:
    """An ordered, named, versioned set of themes.

    Example:
        >>> ls = LabelSet("demo", "1", (Theme("drills"), Theme("trafficking")))
        >>> ls.names
        ('drills', 'trafficking')
        >>> ls.check(["drills"], where="row 3")
        ('drills',)
    """

    name: str
    version: str
    themes: tuple[Theme, ...]
    column: str = DEFAULT_COLUMN  # the annotation column (and output field) of its labels

    def __post_init__(self) -> None:
        if not _THEME_NAME.match(self.column) or self.column in _RESERVED_COLUMNS:
            raise ClassifyError(
                f"label set {self.name!r}: {self.column!r} cannot name its column",
                hint="use a lowercase name such as narratives, not an annotation file column",
            )
        if not self.themes:
            raise ClassifyError(f"label set {self.name!r} has no themes")
        seen: set[str] = set()
        for theme in self.themes:
            if not _THEME_NAME.match(theme.name):
                raise ClassifyError(
                    f"label set {self.name!r}: bad theme name {theme.name!r}",
                    hint="use lowercase letters, digits, '_' or '-', starting with a letter",
                )
            if theme.name in seen:
                raise ClassifyError(
                    f"label set {self.name!r}: theme {theme.name!r} is listed twice"
                )
            seen.add(theme.name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(theme.name for theme in self.themes)

    @property
    def noun(self) -> str:
        """What one label is called in messages: ``theme``, ``narrative``, ..."""
        return self.column.removesuffix("s") or "label"

    def check(self, themes: list[str] | tuple[str, ...], *, where: str) -> tuple[str, ...]:
        """Return ``themes`` in label-set order, or raise naming the unknown one and ``where``."""
        known = set(self.names)
        for theme in themes:
            if theme not in known:
                raise ClassifyError(
                    f"{where}: unknown {self.noun} {theme!r}",
                    hint=f"label set {self.name!r} has: {', '.join(self.names)}",
                )
        wanted = set(themes)
        return tuple(name for name in self.names if name in wanted)

    def to_dict(self) -> dict[str, Any]:
        labels = [{"name": t.name, "definition": t.definition} for t in self.themes]
        if self.column == DEFAULT_COLUMN:  # as before columns existed: the fingerprint stays
            return {"name": self.name, "version": self.version, "themes": labels}
        return {"name": self.name, "version": self.version, "column": self.column,
                "labels": labels}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "label set") -> LabelSet:
        if "themes" in data and "labels" in data:
            raise ClassifyError(f"{where}: a label set has [[themes]] or [[labels]], not both")
        try:
            entries = data["labels"] if "labels" in data else data["themes"]
            themes = tuple(Theme(str(t["name"]), str(t.get("definition", ""))) for t in entries)
            column = str(data.get("column", DEFAULT_COLUMN))
            return cls(str(data["name"]), str(data.get("version", "1")), themes, column)
        except (KeyError, TypeError) as exc:
            raise ClassifyError(
                f"{where}: not a valid label set (missing or malformed {exc})",
                hint="it needs `name`, optional `version` and `column`, and [[themes]] or "
                "[[labels]] with `name` each",
            ) from None

    @property
    def fingerprint(self) -> str:
        """A short hash of names and definitions: changes whenever the label set does."""
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


# columns an annotation file or a prediction already uses for something else
_RESERVED_COLUMNS = frozenset(
    {"id", "text", "document", "start", "end", "kind", "source", "lang", "scores", "review",
     "rationale", "note", "labels"}
)  # fmt: skip


def abbreviate(names: Sequence[str], shortest: int = 5) -> list[str]:
    """The shortest prefixes (at least ``shortest`` characters) that still tell ``names`` apart:
    column headers for themes in a narrow table.

    Example:
        >>> abbreviate(["recruitment", "returnees", "legislation"])
        ['recru', 'retur', 'legis']
        >>> abbreviate(["state_effectiveness", "state_rights"], shortest=3)
        ['state_e', 'state_r']
    """
    for size in range(shortest, max(map(len, names), default=0) + 1):
        prefixes = [name[:size] for name in names]
        if len(set(prefixes)) == len(prefixes):
            return prefixes
    return list(names)


def load_label_set(path: str | Path) -> LabelSet:
    """Read a label set from a TOML file.

    Example:
        >>> load_label_set("labels/themes.toml").names
        ('recruitment', 'returnees', 'legislation', 'drills', 'trafficking')
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClassifyError(f"label set not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ClassifyError(f"{path}: not valid TOML: {exc}") from None
    return LabelSet.from_dict(data, where=str(path))
