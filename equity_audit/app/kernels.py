"""The kernel manager the pipeline runs its notebooks with: local sockets, not TCP.

ipykernel warns "Kernel is running over TCP without encryption" on the console
for every kernel that talks to its client over TCP, that is once per notebook
of a run, and any local account can connect to a TCP port on 127.0.0.1. Over
IPC the kernel's sockets are files in a folder only the run's owner can open,
and ipykernel has nothing to warn about.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from jupyter_client import AsyncKernelManager
from traitlets import default

__all__ = ["IPCKernelManager"]


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

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        folder = getattr(self, "_socket_folder", None)
        if not restart and folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
