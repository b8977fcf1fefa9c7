"""One place for the errors the library raises on bad input.

Every message names the parameter or input, the value received, the rule, and the fix, e.g.
``n_neighbors=0 must be an integer >= 1`` (:mod:`explorer._validation` writes them). The CLI
prints ``str(err)`` on one line of stderr and exits 2; the app shows it in the page.
"""


class ExplorerError(Exception):
    """Base class of every error AnchorAL Explorer raises on purpose."""


class DataError(ExplorerError, ValueError):
    """The dataset cannot be used as given (missing file or column, bad texts, one class, ...)."""


class ParameterError(ExplorerError, ValueError):
    """A parameter is out of range or unknown.

    ``param`` and ``value`` name it when one parameter is at fault (the CLI uses ``param`` to
    name its option, e.g. ``--n-anchors``); ``None`` otherwise.
    """

    def __init__(self, message, param=None, value=None):
        super().__init__(message)
        self.param = param
        self.value = value


class SessionError(ExplorerError, ValueError):
    """A saved session directory is corrupted, foreign, of another dataset, or locked."""


class SessionLockedError(SessionError):
    """Another process holds the session's writer lock (open it read-only, or wait and retry)."""

    def __init__(self, message, path=None, holder=None):
        super().__init__(message)
        self.path = path
        self.holder = holder
