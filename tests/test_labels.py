import pytest
from conftest import SEED_LABELS_R

from histkit.errors import LabelsError
from histkit.labels import load_labels, parse_r_labels

SEED = {"loss": "Multilabel Balanced Dice Loss", "sdice": "Multilabel Dice Score",
        "background_dice": "Background Dice Score", "vsat_dice": "VAT Dice Score",
        "scat_dice": "SAT Dice Score"}


def test_seed_r_file_loads_in_order(labels_file):
    labels = load_labels(labels_file)
    assert labels == SEED and list(labels) == list(SEED)


def test_r_variants_comments_quotes_and_several_vectors(tmp_path):
    p = tmp_path / "l.R"
    p.write_text("# labels\nfirst = c(`val acc` = 'Acc\\'s', \"loss\" = \"L\") # trailing\n"
                 "second <- c(a = \"A\",\n  b = \"B\"\n)\nempty <- c()\n")
    assert load_labels(p) == {"val acc": "Acc's", "loss": "L"}
    assert load_labels(p, name="second") == {"a": "A", "b": "B"}
    assert parse_r_labels(p.read_text())["empty"] == {}
    with pytest.raises(LabelsError, match="no vector named 'third'; the file defines first"):
        load_labels(p, name="third")


@pytest.mark.parametrize("code, line, match", [
    ('x <- c(a = "A")\nsystem("rm -rf /")\n', 2, "expected '<-', found '\\('"),
    ('x <- paste0("a", "b")\n', 1, r"only c\(...\) may be assigned"),
    ('x <- c(a = 1)\n', 1, "unexpected '1"),
    ('x <- c(a = b)\n', 1, "expected a quoted label for 'a'"),
    ('x <- c(a = "A"; b = "B")\n', 1, "unexpected ';"),
    ('x <- c(a = "A",\n', 1, "file ends"),
    ('\n\nx <- c(a = "A" + "B")\n', 3, "unexpected '\\+"),
])
def test_r_code_is_refused_with_its_line(tmp_path, code, line, match):
    p = tmp_path / "bad.R"
    p.write_text(code)
    with pytest.raises(LabelsError, match=match) as info:
        load_labels(p)
    assert str(info.value).startswith(f"{p}:{line}:")


def test_json_toml_and_dict(tmp_path):
    (tmp_path / "l.json").write_text('{"loss": "Loss", "sdice": "Dice"}')
    (tmp_path / "l.toml").write_text('[labels]\nloss = "Loss"\nsdice = "Dice"\n')
    (tmp_path / "flat.toml").write_text('loss = "Loss"\n')
    assert list(load_labels(tmp_path / "l.json")) == ["loss", "sdice"]
    assert load_labels(tmp_path / "l.toml") == {"loss": "Loss", "sdice": "Dice"}
    assert load_labels(tmp_path / "flat.toml") == {"loss": "Loss"}
    assert load_labels({"a": "A"}) == {"a": "A"} and load_labels(None) == {}


@pytest.mark.parametrize("name, text, match", [
    ("l.json", "{bad", "invalid JSON"),
    ("l.json", '["a"]', "expected a table"),
    ("l.json", '{"loss": 3}', "label for 'loss' must be a string"),
    ("l.toml", "a = ", "invalid TOML"),
    ("l.yaml", "a: b", "unknown labels format '.yaml'"),
])
def test_bad_label_files(tmp_path, name, text, match):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(LabelsError, match=match):
        load_labels(p)
    with pytest.raises(LabelsError, match="no such labels file"):
        load_labels(tmp_path / "missing.R")


def test_seed_text_is_the_reference(tmp_path):
    assert parse_r_labels(SEED_LABELS_R) == {"training_labels": SEED}


R_ESCAPES = r'''labels <- c(
  lt = "\x3c b",
  e = "\u00e9t\u{e9}",
  oct = "\074\075",
  emoji = "\U{1F600} \U0001F601",
  tab = "a\tb\\c\"d\'e",
  lt = "the second lt"
)
'''


def test_string_escapes_and_repeated_names_read_as_r_reads_them(tmp_path):
    import shutil
    import subprocess

    path = tmp_path / "labels.R"
    path.write_text(R_ESCAPES, encoding="utf-8")
    ours = load_labels(path)
    assert ours == {"lt": "< b", "e": "été", "oct": "<=", "emoji": "\U0001F600 \U0001F601",
                    "tab": "a\tb\\c\"d'e"}
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript is not installed (make test installs R)")
    code = (f"source({str(path)!r}, encoding = 'UTF-8'); "
            "for (n in unique(names(labels))) "
            "cat(n, '\\t', utf8ToInt(labels[[n]]), '\\n')")
    out = subprocess.run([rscript, "-e", code], capture_output=True, text=True, check=True)
    theirs = {}
    for row in out.stdout.splitlines():
        name, codes = row.split("\t")
        theirs[name.strip()] = "".join(chr(int(c)) for c in codes.split())
    assert ours == theirs


@pytest.mark.parametrize("text, match", [
    ('x <- c(a = "\\q")', r"'\\q' is an unrecognized escape"),
    ('x <- c(a = "\\x3c\\u00e9")', "mixes Unicode and octal/hex escapes"),
])
def test_escapes_r_refuses_are_refused(tmp_path, text, match):
    path = tmp_path / "labels.R"
    path.write_text(text)
    with pytest.raises(LabelsError, match=match):
        load_labels(path)
