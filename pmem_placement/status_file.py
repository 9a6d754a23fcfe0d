"""Reading the agent's status file, telling "there is none" from "it cannot be read".

``agent/report.py`` writes the file and reads it where only a usable status matters; the
operator's commands (``check``, ``remove``) also need to say why a status that is there is
not usable: a file cut short or edited by hand is not an agent that never ran.
"""

import json
import typing


def read(path: str) -> tuple[dict[str, typing.Any] | None, str | None]:
    """(status, None) when it is usable; (None, None) when there is no file; (None, why) when
    it is there but cannot be read or is not a status."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"the agent's status file {path} cannot be read: {exc.strerror or exc}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"the agent's status file {path} is corrupt (not JSON: {exc})"
    if not isinstance(data, dict):
        return None, f"the agent's status file {path} is corrupt (not a JSON object)"
    return data, None
