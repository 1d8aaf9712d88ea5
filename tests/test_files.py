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
