"""The pipeline's notebooks run on kernels that talk over local sockets, not TCP."""
from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from equity_audit.app.kernels import IPCKernelManager


def test_a_kernel_runs_over_ipc_in_a_private_folder_removed_at_shutdown(tmp_path):
    async def run():
        manager = IPCKernelManager(kernel_name="python3")
        with log.open("w") as console:
            await manager.start_kernel(cwd=str(work), stderr=console)
        folder = Path(manager.ip).parent
        try:
            client = manager.client()
            client.start_channels()
            reply = await client.kernel_info(reply=True, timeout=60)
            client.stop_channels()
            sockets = sorted(p.name for p in folder.iterdir())
            mode = stat.S_IMODE(folder.stat().st_mode)
        finally:
            await manager.shutdown_kernel(now=True)
        return manager.transport, reply, folder, sockets, mode

    work, log = tmp_path / "work", tmp_path / "kernel.log"
    work.mkdir()

    transport, reply, folder, sockets, mode = asyncio.run(run())
    assert transport == "ipc" and reply["content"]["status"] == "ok"
    assert len(sockets) == 5 and all(name.startswith("kernel-") for name in sockets)
    assert mode == 0o700 and not folder.exists()
    assert not list(work.iterdir())  # nothing left in the kernel's working folder
    console = log.read_text()
    assert "without encryption" not in console


def test_clients_left_open_by_a_caller_are_closed_when_the_kernel_shuts_down(tmp_path):
    # papermill keeps the channels of the client it makes from a manager it was given; each holds a ZMQ
    # context with its threads and descriptors, which piled up over a long session
    async def run():
        manager = IPCKernelManager(kernel_name="python3")
        await manager.start_kernel(cwd=str(tmp_path))
        client = manager.client()
        client.start_channels()
        await client.kernel_info(reply=True, timeout=60)
        running = client.channels_running
        await manager.shutdown_kernel(now=True)
        return running, client

    running, client = asyncio.run(run())
    assert running and not client.channels_running
    assert client.context.closed


def test_a_warm_kernel_caps_its_numeric_threads(tmp_path):
    # two kernels side by side on two cores, each with OpenBLAS threads that spin while waiting, ran the
    # 100,000-student unmet-need notebook three times slower than kernels of one thread each
    from equity_audit.app.kernels import WarmKernel

    probe = ("import os\n"
             "open('threads.txt', 'w').write(' '.join(os.environ[name] for name in\n"
             "    ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')))")
    kernel = WarmKernel(tmp_path, threads=1)
    try:
        assert kernel.run(probe)
    finally:
        kernel.shutdown()
    assert (tmp_path / "threads.txt").read_text() == "1 1 1"
