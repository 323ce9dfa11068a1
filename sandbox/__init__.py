"""The jailed executor: runs untrusted layout code in isolation.

Stdlib only; it never imports cocogen.
"""

from sandbox.runner import Runner, SubprocessRunner
from sandbox.wire import Job, JobResult, Limits

__all__ = ["Job", "JobResult", "Limits", "Runner", "SubprocessRunner"]
