from pathlib import Path

import pytest

from histkit.files import atomic_target, locked, write_atomic


def test_write_atomic_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "out.csv"
    write_atomic(p, b"one")
    write_atomic(p, b"two")
    assert p.read_bytes() == b"two" and [f.name for f in p.parent.iterdir()] == ["out.csv"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    p = tmp_path / "out.png"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_target(p) as tmp:
            assert tmp.suffix == ".png" and tmp.parent == tmp_path
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert p.read_bytes() == b"old" and [f.name for f in tmp_path.iterdir()] == ["out.png"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_files_get_the_mode_of_the_users_umask(tmp_path, umask, mode):
    """Not mkstemp's 0600: colleagues sharing run/ or a served report can read them."""
    import subprocess
    import sys

    code = ("import os, sys; os.umask(int(sys.argv[1], 8)); "
            "from histkit.files import atomic_target, locked, write_atomic; "
            "write_atomic(sys.argv[2] + '/plain.html', b'x'); "
            "write_atomic(sys.argv[2] + '/durable.csv', b'x', durable=True)\n"
            "with atomic_target(sys.argv[2] + '/by_path.png') as t: t.write_bytes(b'x')")
    subprocess.run([sys.executable, "-c", code, oct(umask)[2:], str(tmp_path)], check=True)
    for name in ("plain.html", "durable.csv", "by_path.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_remove_temps_takes_only_the_writers_own(tmp_path):
    from histkit.files import remove_temps

    target = tmp_path / "run.csv"
    mine = tmp_path / ".run.ab12cd34.tmp.csv"         # what a killed atomic_target leaves
    other = tmp_path / ".run_2.ab12cd34.tmp.csv"      # another run's
    for f in (target, mine, other):
        f.write_text("x")
    remove_temps(target)
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted([target.name, other.name])


def test_locked_keeps_a_second_holder_out_until_released(tmp_path):
    lock = tmp_path / ".run.lock"
    with locked(lock):
        with pytest.raises(BlockingIOError):
            with locked(lock, wait=False):
                pass
    with locked(lock, wait=False):  # released: free again, the file kept
        assert lock.exists()


@pytest.fixture
def full_disk(tmp_path):
    """A folder whose disk is full: a 64 KiB tmpfs where mount is allowed
    (CI runs as root), else None (the test then uses a file size limit)."""
    import subprocess

    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                             capture_output=True).returncode == 0
    yield where if mounted else None
    if mounted:
        subprocess.run(["umount", str(where)], capture_output=True)


def test_a_full_disk_is_one_line_naming_the_output_and_nothing_half_written(full_disk, tmp_path):
    import resource
    import subprocess
    import sys

    fixture = Path(__file__).parent / "fixtures" / "sources" / "keras" / "training.log.csv"
    out = full_disk or tmp_path / "limited"
    out.mkdir(exist_ok=True)
    if full_disk is not None:
        with open(full_disk / "fill", "wb", buffering=0) as fill:
            try:
                while True:  # to the last byte
                    fill.write(b"\0" * 1024)
            except OSError:
                pass
        limit, said = None, "no space left on device"
    else:
        limit, said = 2_000, "file too large"

    def capped():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    for args, target in ((["plot", str(fixture), "-o", str(out / "p.png")], out / "p.png"),
                         (["runs", str(fixture.parent), "-o", str(out / "x.parquet")],
                          out / "x.parquet")):
        res = subprocess.run([sys.executable, "-m", "histkit", *args], capture_output=True,
                             text=True, preexec_fn=capped, timeout=300)
        assert res.returncode == 1, res.stderr
        assert res.stderr.strip().splitlines()[-1] == (
            f"histkit: error: {target}: cannot write it: {said}; nothing was left half-written")
        assert not target.exists()
        assert not [p for p in out.iterdir() if ".tmp" in p.name]
