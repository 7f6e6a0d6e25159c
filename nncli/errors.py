"""The two ways nncli work can end badly, as the exit codes of the contract name them."""


class InputError(Exception):
    """The input was wrong (config, data, arguments, run directory): exit code 2.

    The message names the problem and where it is, e.g. ``config.yaml: training.epochs: ...``.
    """

    exit_code = 2


class TrainingFailed(Exception):
    """The work ran but failed (divergence, gradient check failure): exit code 1."""

    exit_code = 1
