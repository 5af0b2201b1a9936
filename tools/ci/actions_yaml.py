"""Reading GitHub workflows and action.yml for the checks in tools/ci."""

from ruamel.yaml import YAML


def load(path):
    """(document, its lines): the document keeps each key's line (`.lc`)."""
    text = path.read_text()
    return YAML().load(text) or {}, text.splitlines()


def steps(doc):
    """Every step of a workflow's jobs, or of a composite action's `runs:`."""
    for job in (doc.get("jobs") or {}).values():
        yield from job.get("steps") or []
    yield from (doc.get("runs") or {}).get("steps") or []
