"""The error tree and the exit statuses every command shares.

Known failures are raised as an :class:`MlctlError` subclass; ``mlctl.cli.main.main``
turns them into one line ``mlctl: error: …`` and the documented exit status. Anything
else is a bug and exits with :attr:`ExitStatus.INTERNAL`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit statuses of ``mlctl``; the README documents this table."""

    OK = 0
    INTERNAL = 1  #: an unexpected error (a bug): rerun with --debug and report it
    USAGE = 2  #: wrong flags or arguments (click's own status)
    CONFIG = 3  #: bad settings, context file or environment
    INVALID = 4  #: invalid input: a bundle, a file, a value
    NOT_FOUND = 5  #: the named model, job, user, context or file does not exist
    AUTH = 6  #: not logged in, token expired, wrong credentials
    PERMISSION = 7  #: authenticated but not allowed
    UNREACHABLE = 8  #: Nomad, Vault or the artifact store could not be reached
    CONFLICT = 9  #: the request conflicts with current state
    PLACEMENT = 10  #: Nomad cannot place the job (resources, GPUs, constraints)
    DEPLOY_FAILED = 11  #: the deployment failed and was not reverted
    DEPLOY_REVERTED = 12  #: the deployment failed and Nomad auto-reverted it
    TIMEOUT = 13  #: waited longer than allowed
    PROVISION_FAILED = 14  #: an Ansible run failed
    UNSAFE = 15  #: refused for safety: unsafe archive, unpinned pickle
    INTERRUPTED = 130  #: stopped by Ctrl-C


class MlctlError(Exception):
    """A failure the user can act on: a short title, a message, and an optional hint."""

    status: ExitStatus = ExitStatus.INTERNAL
    title: str = "error"

    def __init__(self, message: str, *, hint: str | None = None, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if title is not None:
            self.title = title

    def one_line(self) -> str:
        """The message and hint as the single line the CLI prints."""
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form for ``--output json``."""
        return {
            "error": self.title,
            "message": self.message,
            "hint": self.hint,
            "status": int(self.status),
        }


class UsageError(MlctlError):
    """Wrong or missing flags, found after parsing (click reports the rest itself)."""

    status = ExitStatus.USAGE
    title = "usage error"


class ConfigError(MlctlError):
    status = ExitStatus.CONFIG
    title = "configuration error"


class InvalidInput(MlctlError):
    status = ExitStatus.INVALID
    title = "invalid input"


class NotFound(MlctlError):
    status = ExitStatus.NOT_FOUND
    title = "not found"


class AuthError(MlctlError):
    status = ExitStatus.AUTH
    title = "authentication failed"


class PermissionDenied(MlctlError):
    status = ExitStatus.PERMISSION
    title = "permission denied"


class Unreachable(MlctlError):
    status = ExitStatus.UNREACHABLE
    title = "unreachable"


class Conflict(MlctlError):
    status = ExitStatus.CONFLICT
    title = "conflict"


class PlacementFailed(MlctlError):
    status = ExitStatus.PLACEMENT
    title = "placement failed"


class DeploymentFailed(MlctlError):
    status = ExitStatus.DEPLOY_FAILED
    title = "deployment failed"


class DeploymentReverted(MlctlError):
    status = ExitStatus.DEPLOY_REVERTED
    title = "deployment reverted"


class Timeout(MlctlError):
    status = ExitStatus.TIMEOUT
    title = "timed out"


class ProvisionFailed(MlctlError):
    status = ExitStatus.PROVISION_FAILED
    title = "provisioning failed"


class UnsafeInput(MlctlError):
    status = ExitStatus.UNSAFE
    title = "refused as unsafe"
