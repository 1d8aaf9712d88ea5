import ctypes
import subprocess
import sys

import pytest

# a child process allocates, touches and frees a 64 MiB block five times and
# prints its minor page faults: fresh pages fault, reused ones do not
FAULTS = """
import ctypes, resource
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 64 << 20
block = libc.malloc(size); ctypes.memset(block, 1, size); libc.free(block)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    block = libc.malloc(size); ctypes.memset(block, 1, size); libc.free(block)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
"""
CHURN = """
import sys
from histkit.train.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
""" + FAULTS + "print(kept, faults)"


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


# the same churn after `histkit train` ran in this process (and after a plain
# train() call, which must leave the caller's allocator alone)
AFTER_TRAINING = """
import sys
from click.testing import CliRunner
from histkit.train import TrainConfig, train
from histkit.cli.train import train_command
args = sys.argv[2:]
if sys.argv[1] == "cli":
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
else:
    train(TrainConfig(root=args[args.index("--root") + 1], shape="32x16x1", n_train=6,
                      n_val=2, epochs=1, levels=2, base_filters=4), log=lambda *a: None)
""" + FAULTS + "print(faults)"
TINY = ["--shape", "32x16x1", "--n-train", "6", "--n-val", "2", "--epochs", "1", "--levels", "2",
        "--base-filters", "4", "--quiet"]


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt")
def test_histkit_train_keeps_freed_memory_and_a_library_call_does_not(tmp_path):
    def faults(how: str) -> int:
        out = subprocess.run([sys.executable, "-c", AFTER_TRAINING, how, *TINY, "--root",
                              str(tmp_path / how)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return int(out.stdout.split()[-1])

    pages = 5 * (64 << 20) // 4096
    assert faults("cli") < pages // 20
    assert faults("library") > pages // 2
