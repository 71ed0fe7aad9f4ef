"""A kernel manager for the workshop server that caps how many kernels run at once.

Voila starts one kernel (about 350 MB) per page load. In a workshop a room of
browsers reloading would otherwise start kernels until the machine runs out of
memory; past the cap a new page gets a plain "the explorer is full" answer, and
idle kernels are culled by the server settings the CLI passes.
"""
from __future__ import annotations

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

__all__ = ["CappedKernelManager"]


class CappedKernelManager(AsyncMappingKernelManager):
    """:class:`AsyncMappingKernelManager` that refuses to start more than ``max_kernels``."""

    max_kernels = Integer(6, config=True, help="Most kernels running at once (one per open page).")

    async def start_kernel(self, *args, **kwargs):
        if len(self.list_kernel_ids()) >= self.max_kernels:
            raise web.HTTPError(503, f"The workshop explorer is open in {self.max_kernels} pages already; "
                                     "close one, or wait a few minutes for an idle page to be closed.")
        return await super().start_kernel(*args, **kwargs)
