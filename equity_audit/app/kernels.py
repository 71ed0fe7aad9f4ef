"""The kernel manager the pipeline runs its notebooks with: local sockets, not TCP.

ipykernel warns "Kernel is running over TCP without encryption" on the console
for every kernel that talks to its client over TCP, that is once per notebook
of a run, and any local account can connect to a TCP port on 127.0.0.1. Over
IPC the kernel's sockets are files in a folder only the run's owner can open,
and ipykernel has nothing to warn about.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_core.utils import ensure_async
from traitlets import default

__all__ = ["IPCKernelManager", "WarmKernel", "thread_limits"]

#: The variables that size the thread pools of OpenBLAS, OpenMP, MKL, numexpr and Arrow.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")


def thread_limits(threads: int | None) -> dict[str, str]:
    """This process's environment with every numeric thread pool capped at ``threads`` (none: unchanged).

    Notebooks that run side by side each start OpenBLAS with one thread per core, and
    its threads wait by spinning: two kernels on two cores then ran the 100,000-student
    district's unmet-need notebook in 59 s instead of 20 s.

    >>> thread_limits(1)["OPENBLAS_NUM_THREADS"]
    '1'
    """
    env = dict(os.environ)
    if threads is not None:
        env.update({name: str(max(1, int(threads))) for name in THREAD_VARIABLES})
    return env


class IPCKernelManager(AsyncKernelManager):
    """:class:`~jupyter_client.AsyncKernelManager` over IPC, its sockets in a private temporary folder.

    The folder (``mkdtemp``: owner-only) is removed when the kernel shuts down
    for good; a restart keeps it, since the restarted kernel binds there again.
    """

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("ip")
    def _ip_default(self) -> str:
        if self.transport != "ipc":  # set to TCP by configuration: the usual local address
            return super()._ip_default()
        # an absolute path: the default ("kernel-ipc") would put socket files in the caller's folder
        self._socket_folder = Path(tempfile.mkdtemp(prefix="equity-audit-kernel-"))
        return str(self._socket_folder / "kernel")

    def client(self, **kwargs):
        """A client of the kernel, stopped when the kernel shuts down for good.

        papermill (nbclient) leaves the channels of a client it made from a
        manager it was given open, each with its own ZMQ context and threads:
        over a test session, or a workshop, they ran past 1,024 descriptors.
        """
        made = super().client(**kwargs)
        self._clients = [*getattr(self, "_clients", []), made]
        return made

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        if not restart:
            for made in getattr(self, "_clients", []):
                await ensure_async(made.stop_channels())
            self._clients = []
        await super()._async_cleanup_resources(restart=restart)
        folder = getattr(self, "_socket_folder", None)
        if not restart and folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


class WarmKernel:
    """A kernel started, and its notebook's imports loaded, before the notebook runs.

    The pipeline starts the kernel of a step while the steps before it run, so
    that a step begins with its libraries in memory, and keeps it for the
    step's later passes (:mod:`equity_audit.app.memo`). Pass it to papermill as
    ``km=kernel.manager``: papermill then leaves it running, and
    :meth:`shutdown` ends it.

    Parameters
    ----------
    cwd : Path
        Folder the kernel starts in (the run folder).
    setup : str
        Code run silently once the kernel is up: imports, never anything the
        notebook shows. An error in it is ignored, so that the notebook's own
        cell meets it and reports it.
    timeout : float
        Seconds to wait for the kernel and for the setup code.
    threads : int, optional
        Threads each numeric library of the kernel may use (:func:`thread_limits`).
    """

    def __init__(self, cwd: Path, setup: str = "", *, timeout: float = 120, threads: int | None = None):
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_core.utils import run_sync

        self.manager = IPCKernelManager(kernel_name="python3")
        run_sync(self.manager.start_kernel)(cwd=str(cwd), env=thread_limits(threads))
        # with its manager as parent the client asks the manager whether the process lives; on its own it
        # would go by the heartbeat, which a kernel still loading its imports on a busy machine may not have
        # started yet ("Kernel died before replying to kernel_info")
        self._client = BlockingKernelClient(parent=self.manager)
        self._client.load_connection_info(self.manager.get_connection_info())
        self._client.start_channels()
        try:
            self._client.wait_for_ready(timeout=timeout)
            if setup:
                self.run(setup, timeout=timeout)
        except Exception:
            self.shutdown()
            raise

    def run(self, code: str, *, timeout: float = 120) -> bool:
        """Run ``code`` silently (no output, no execution count); whether it ran without error."""
        message = self._client.execute(code, silent=True, store_history=False, allow_stdin=False)
        while True:
            reply = self._client.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == message:
                return reply["content"].get("status") == "ok"

    def shutdown(self) -> None:
        """End the kernel and remove its socket folder.

        The kernel is idle, its notebook saved: it is stopped at once rather than
        asked to shut down, which takes 0.3-1 s of its process tidying a large
        memory while the run prints its report.
        """
        from jupyter_core.utils import run_sync

        self._client.stop_channels()
        if self.manager.has_kernel:
            run_sync(self.manager.shutdown_kernel)(now=True)
