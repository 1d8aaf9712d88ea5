import math

import numpy as np
import polars as pl
import pytest

from histkit.render.text_table import markdown, write_markdown


def polars_markdown(table: pl.DataFrame) -> str:
    """What the CLI printed before: polars' own Markdown layout."""
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, tbl_formatting="ASCII_MARKDOWN",
                   tbl_width_chars=60_000, fmt_str_lengths=1000, float_precision=4):
        return str(table) + "\n"


def test_ordinary_values_are_laid_out_as_polars_does():
    table = pl.DataFrame({
        "run": ["unet_2d_mdice_AdaDelta_fat_96x48x1_N32_E12_L3_FBL8", "b", None],
        "epochs": [12, None, 3],
        "best_val_loss": [0.123456, -1e-9, None],
        "dropout": [0.2, float("nan"), float("inf")],
        "attention": [True, False, None],
        "note": ["", "été", "x"],
        "kind": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
    })
    assert markdown(table) == polars_markdown(table)


def test_no_rows_gives_the_header_and_rule():
    table = pl.DataFrame(schema={"run": pl.String, "epoch": pl.Int64})
    assert markdown(table) == "| run | epoch |\n|-----|-------|\n"
    assert markdown(table) == polars_markdown(table)


def test_a_pipe_or_line_break_in_a_cell_keeps_the_row_on_one_line():
    table = pl.DataFrame({"evidence": ["a|b", "two\nlines", "crlf\r\nend"], "n": [1, 2, 3]})
    lines = markdown(table).splitlines()
    assert len(lines) == 2 + table.height
    assert lines[2] == r"| a\|b       | 1 |"
    assert lines[3] == r"| two\nlines | 2 |"
    assert lines[4] == r"| crlf\nend  | 3 |"
    # every line has the same cells, so a Markdown reader sees two columns
    assert {line.count(" | ") for line in lines if not line.startswith("|-")} == {1}


@pytest.mark.parametrize("value, text", [(1e20, "1.0000e+20"), (-2.5e16, "-2.5000e+16"),
                                         (float("-inf"), "-inf"), (123456.78915, "123456.7891")])
def test_large_and_infinite_floats(value, text):
    assert markdown(pl.DataFrame({"x": [value]})).splitlines()[2].strip("| ") == text


def test_list_cells_are_shown_as_python_would():
    table = pl.DataFrame({"rules": [["stuck", "diverged"], None]})
    assert markdown(table).splitlines() == ["| rules                 |",
                                            "|-----------------------|",
                                            "| ['stuck', 'diverged'] |",
                                            "| null                  |"]


def test_floats_round_as_python_does_on_ties_and_edges():
    ties = [k / 32 for k in range(-200, 200)] + [k / 2 ** 14 for k in range(-300, 300)]
    edges = [0.0, -0.0, 5e-5, -5e-5, 1.00005, 2.5e-5, 999_999_999_999_999.9, 1e15, -1e15,
             3.4e38, 5e-324, float("nan"), float("inf"), float("-inf"), None]
    rng = np.random.default_rng(0)
    values = ties + edges + list(rng.normal(size=2000) * 10.0 ** rng.integers(-6, 17, 2000))
    cells = [line.strip("| ") for line in markdown(pl.DataFrame({"x": values},
                                                               schema={"x": pl.Float64}))
             .splitlines()[2:]]
    expected = ["null" if v is None else "NaN" if math.isnan(v)
                else "inf" if v == math.inf else "-inf" if v == -math.inf
                else f"{v:.4f}" if abs(v) < 1e15 else f"{v:.4e}" for v in values]
    assert cells == expected


def test_write_markdown_writes_the_same_bytes_as_markdown(tmp_path):
    table = pl.DataFrame({"run": ["a", "bé|c"], "loss": [0.5, None], "n": [1, 22]})
    with open(tmp_path / "t.md", "wb") as f:
        write_markdown(table, f)
    assert (tmp_path / "t.md").read_text(encoding="utf-8") == markdown(table)
    assert markdown(table).splitlines()[3] == r"| bé\|c | null   | 22 |"


def test_a_pipe_in_a_list_cell_is_escaped_too():
    lines = markdown(pl.DataFrame({"rules": [["a|b"]], "n": [1]})).splitlines()
    assert lines[2] == r"| ['a\|b'] | 1 |"


def test_a_lone_carriage_return_and_odd_column_names_keep_the_table_whole():
    table = pl.DataFrame({"a|b": ["x\ry"], "two\nlines": [1]})
    assert markdown(table).splitlines() == [r"| a\|b | two\nlines |",
                                            "|------|------------|",
                                            r"| x\ry | 1          |"]
