"""Where and in which precision PyTorch trains: devices, dtypes, the backend's precision.

``auto`` is CUDA when PyTorch sees a device, else the CPU; ``cuda:N`` names one of the
machine's CUDA devices. The NumPy simulator runs float64 only.
"""

from __future__ import annotations

import glob
import os
import sys
from typing import Any

from modspec.theory.errors import bad

__all__ = ["check_backend", "cuda_index_problem", "no_gpu_here", "resolve_device",
           "resolve_dtype"]


def no_gpu_here() -> bool:
    """True on a Linux machine without GPU device files (``/dev/nvidia0`` …, ROCm's
    ``/dev/kfd``): no CUDA device can be available, which is known without importing
    PyTorch (seconds), so a request for one is refused at once."""
    return (sys.platform.startswith("linux") and not glob.glob("/dev/nvidia[0-9]*")
            and not os.path.exists("/dev/kfd"))


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; other names are checked (a CUDA
    device on a machine without GPU device files without importing PyTorch)."""
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise bad("device", device, "must be auto, cpu, cuda or cuda:N")
    if device == "cuda" and no_gpu_here():
        raise bad("device", device, "CUDA is not available here; use auto or cpu")
    problem = cuda_index_problem(device)
    if problem:
        raise bad("device", device, problem)
    if device not in ("auto", "cuda"):
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise bad("device", device, "CUDA is not available here; use auto or cpu")
    return device


def cuda_index_problem(device: str) -> str | None:
    """What is wrong with a ``cuda:N`` device on this machine (None when it exists or
    ``device`` names no index)."""
    if not str(device).startswith("cuda:"):
        return None
    if no_gpu_here():
        count = 0
    else:
        import torch

        count = torch.cuda.device_count()
    index = device[5:]
    if index.isdigit() and int(index) < count:
        return None
    return (f"this machine has {count} CUDA device{'' if count == 1 else 's'}"
            + (f" (cuda:0 … cuda:{count - 1})" if count else "; use auto or cpu"))


def check_backend(backend: str, dtype: str) -> None:
    """Refuse a precision the backend does not run: the NumPy simulator is float64 only."""
    if backend == "numpy" and dtype != "float64":
        raise bad("dtype", dtype, "the NumPy simulator runs float64 only; use backend "
                  "'torch' (or 'auto') for float32")


def resolve_dtype(dtype: str) -> Any:
    import torch

    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise bad("dtype", dtype, "must be float32 or float64")
    return table[dtype]
