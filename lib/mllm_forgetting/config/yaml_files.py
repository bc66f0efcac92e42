"""Config files read strictly: YAML lets a repeated key silently win (a second `finetune:` under `methods:`
replaces the first), so a repeated key is a ConfigError naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import yaml

from .typed import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(
                    f"{_shown(self.name)}:{line}: key {key!r} repeats the one on line {seen[key] + 1} of the "
                    "same mapping (YAML would keep only the last); remove one"
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path):
    """The YAML file's content; ConfigError on a repeated key or a syntax error (one line each)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{_shown(path)}:{mark.line + 1}" if mark else _shown(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None


def _shown(path) -> str:
    """The path as the user would write it: relative to the working directory when inside it."""
    path = Path(path).absolute()
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
