import ctypes
import subprocess
import sys

import pytest
from click.testing import CliRunner

# a child process allocates, touches and frees a 64 MiB block five times and
# prints its minor page faults: fresh pages fault, reused ones do not
CHURN = """
import ctypes, resource, sys
from histkit.train.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 64 << 20
block = libc.malloc(size); ctypes.memset(block, 1, size); libc.free(block)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    block = libc.malloc(size); ctypes.memset(block, 1, size); libc.free(block)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    except OSError:
        return False


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt")
def test_freed_blocks_are_reused_instead_of_faulting_in_fresh_pages():
    kept, faults = _faults("keep")
    default, faults_default = _faults("default")
    assert kept == "True" and default == "None"
    pages = 5 * (64 << 20) // 4096
    assert faults_default > pages // 2  # glibc gave each block back and mapped it again
    assert faults < pages // 20


def test_histkit_train_sets_it_for_its_own_process(monkeypatch, tmp_path):
    from histkit.train import allocator, cli

    calls = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append("kept") or True)
    monkeypatch.setattr("histkit.train.train", lambda config, log: calls.append("trained") or tmp_path)
    result = CliRunner().invoke(cli.train_command, ["--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert calls == ["kept", "trained"]
