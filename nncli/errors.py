"""The two ways nncli work can end badly, as the exit codes of the contract name them, and
the warning for what the user should know but does not stop the work."""


class InputError(Exception):
    """The input was wrong (config, data, arguments, run directory): exit code 2.

    Each message names one problem and where it is, e.g. ``config.yaml:12:3: training.epochs:
    ...``. Usually there is one; a config can have several (``problems``), which ``str()``
    gives one per line and the CLI prints as one ``error:`` line each.
    """

    exit_code = 2

    def __init__(self, message: str, *more: str):
        super().__init__(message, *more)
        self.problems = [message, *more]

    def __str__(self) -> str:
        return "\n".join(self.problems)


class NncliWarning(UserWarning):
    """Something the user should know, that does not stop the work (rows dropped, a batch size
    larger than the data). The library raises it with :func:`warnings.warn`, so Python users
    see it as a warning; the CLI prints each as one ``warning: ...`` line on stderr."""


class TrainingFailed(Exception):
    """The work ran but failed (divergence, gradient check failure): exit code 1."""

    exit_code = 1


class OutputFailed(TrainingFailed):
    """The machine could not hold the result (a full disk, a quota, an I/O error, a closed
    stream): exit code 1, like other work that ran but failed. The message names the path."""
