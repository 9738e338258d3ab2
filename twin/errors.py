"""The TwinError family: bad input stops at the edge with one clear line naming the file,
element or field. The CLI prints `error: <message>` without a traceback; the server answers
`{"error": ...}` with a 4xx status."""


class TwinError(Exception):
    """Base of every error caused by bad input rather than by a bug."""


class IfcFileError(TwinError):
    """An IFC file cannot be read: not IFC, truncated, unknown schema, empty, bad zip."""


class ProjectError(TwinError):
    """A project.toml or an action list is missing, malformed or names unknown things."""


class ContextError(TwinError):
    """A CIM/GeoJSON context layer is malformed."""


class OutputError(TwinError):
    """An output (GLB, PNG, report) cannot be written: missing folder, unwritable path."""
