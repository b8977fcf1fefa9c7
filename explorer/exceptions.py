"""One place for the errors the library raises on bad input.

Every message names the parameter or input, the value received, the rule, and the fix, e.g.
``n_neighbors=0 must be >= 1``. The CLI prints ``str(err)`` on one line of stderr and exits 2;
the app shows it in the page.
"""


class ExplorerError(Exception):
    """Base class of every error AnchorAL Explorer raises on purpose."""


class DataError(ExplorerError, ValueError):
    """The dataset cannot be used as given (missing file or column, bad texts, one class, ...)."""


class ParameterError(ExplorerError, ValueError):
    """A parameter is out of range or unknown."""


class SessionError(ExplorerError, ValueError):
    """A saved session directory is corrupted, foreign or locked."""


class ComputeError(ExplorerError, RuntimeError):
    """Work sent to Dask workers failed (the message says what is kept and how to resume)."""
