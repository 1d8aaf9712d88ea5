import pytest

from histkit.files import atomic_target, write_atomic


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
