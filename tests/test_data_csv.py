"""CSV reading: tables, chunks, and every bad-file error naming its row and column."""

import io

import numpy as np
import pytest

from nncli.data.csvfile import iter_csv_chunks, numeric_matrix, read_csv
from nncli.errors import InputError


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_numeric_and_text_columns(tmp_path):
    t = read_csv(write(tmp_path, "a,b,label\n1,2.5,cat\n3,-4e2,dog\n"))
    assert t.names == ["a", "b", "label"]
    assert t.columns[0].dtype == np.float64 and t.columns[1].tolist() == [2.5, -400.0]
    assert t.columns[2].dtype == object and t.columns[2].tolist() == ["cat", "dog"]
    assert t.n_rows == 2


def test_words_that_look_like_bools_or_dates_stay_text(tmp_path):
    t = read_csv(write(tmp_path, "flag,day\ntrue,2020-01-01\nFalse,2020-01-02\n"))
    assert t.columns[0].tolist() == ["true", "False"]
    assert t.columns[1].tolist() == ["2020-01-01", "2020-01-02"]


def test_no_header_names_columns_x1_to_xk(tmp_path):
    t = read_csv(write(tmp_path, "1,2,3\n4,5,6\n"), header=False)
    assert t.names == ["x1", "x2", "x3"]
    assert t.columns[2].tolist() == [3.0, 6.0]


def test_delimiter_and_bom(tmp_path):
    t = read_csv(write(tmp_path, b"\xef\xbb\xbfa;b\n1;2\n"), delimiter=";")
    assert t.names == ["a", "b"] and t.columns[1].tolist() == [2.0]


def test_binary_file_object_and_stdin(tmp_path, monkeypatch):
    t = read_csv(io.BytesIO(b"a,b\n1,2\n"), source_name="upload.csv")
    assert t.source_name == "upload.csv" and t.columns[0].tolist() == [1.0]
    fake_stdin = io.TextIOWrapper(io.BytesIO(b"a,b\n1,x\n"))
    monkeypatch.setattr("sys.stdin", fake_stdin)
    t = read_csv("-")
    assert t.source_name == "<stdin>" and t.columns[1].tolist() == ["x"]


def test_missing_file_and_empty_files(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(InputError, match=r"d\.csv: file is empty"):
        read_csv(write(tmp_path, ""))
    with pytest.raises(InputError, match=r"d\.csv: no data rows after the header"):
        read_csv(write(tmp_path, "a,b\n"))
    with pytest.raises(InputError, match=r"<input>: file is empty"):
        read_csv(io.BytesIO(b""))


def test_duplicate_column_names_are_named(tmp_path):
    with pytest.raises(InputError, match=r"duplicate column name 'a' \(columns 1 and 3\)"):
        read_csv(write(tmp_path, "a,b,a\n1,2,3\n"))


def test_unnamed_header_column(tmp_path):
    with pytest.raises(InputError, match=r"header: column 1 has no name"):
        read_csv(write(tmp_path, ",b\n1,2\n"))


def test_ragged_row_gives_its_line(tmp_path):
    with pytest.raises(InputError, match=r"d\.csv: row 4 has 2 fields, but the header has 3"):
        read_csv(write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n7,8\n"))
    with pytest.raises(InputError, match=r"row 3 has 4 fields, but row 1 has 3"):
        read_csv(write(tmp_path, "1,2,3\n4,5,6\n7,8,9,10\n"), header=False)


def test_empty_cell_is_reported_by_row_and_column_when_used(tmp_path):
    t = read_csv(write(tmp_path, "a,b,notes\n1,2,\n3,,ok\n"))  # unused empty note is fine
    with pytest.raises(InputError, match=r"d\.csv: row 3, column 'b': empty cell"):
        numeric_matrix(t, ["a", "b"], "data.features")
    assert numeric_matrix(t, ["a"], "data.features").tolist() == [[1.0], [3.0]]


def test_non_numeric_cell_is_reported_by_row_and_column(tmp_path):
    t = read_csv(write(tmp_path, "a,b\n1,2\n3,4\n5,abc\n"))
    with pytest.raises(InputError, match=r"row 4, column 'b': 'abc' is not a number"):
        numeric_matrix(t, [0, 1], "data.features")


def test_non_finite_cell(tmp_path):
    t = read_csv(write(tmp_path, "a,b\n1,2\n3,inf\n"))
    with pytest.raises(InputError, match=r"row 3, column 'b': inf is not a finite number"):
        numeric_matrix(t, ["a", "b"], "data.features")


def test_row_numbers_count_editor_lines_across_blank_lines_and_quoted_newlines(tmp_path):
    text = 'a,b\n1,"two\nlines"\n\n3,\n'
    t = read_csv(write(tmp_path, text))
    with pytest.raises(InputError, match=r"row 5, column 'b': empty cell"):
        numeric_matrix(t, ["b"], "x")


def test_numeric_matrix_shape_and_order(tmp_path):
    t = read_csv(write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n"))
    X = numeric_matrix(t, ["c", 0], "data.features")
    assert X.dtype == np.float64 and X.tolist() == [[3.0, 1.0], [6.0, 4.0]]


def test_unknown_column_lists_the_columns(tmp_path):
    t = read_csv(write(tmp_path, "a,b\n1,2\n"))
    with pytest.raises(InputError, match=r"data.target: no column named 'z' .*columns: 'a', 'b'"):
        t.column_index("z", "data.target")
    with pytest.raises(InputError, match=r"data.target: column index 2 is out of range"):
        t.column_index(2, "data.target")
    assert t.column_index(-1, "data.target") == 1


def test_chunks_cover_the_file_with_file_row_numbers(tmp_path):
    rows = "".join(f"{i},{i * 2}\n" for i in range(2000))
    path = write(tmp_path, "a,b\n" + rows + "7,\n")
    chunks = list(iter_csv_chunks(path, block_size=4096))
    assert len(chunks) > 1
    a = np.concatenate([c.columns[0] for c in chunks])
    assert a[:2000].tolist() == list(range(2000))
    with pytest.raises(InputError, match=r"row 2002, column 'b': empty cell"):
        for c in chunks:
            numeric_matrix(c, ["a", "b"], "input")


def test_csv_module_never_imports_sklearn():
    import subprocess
    import sys

    code = "import sys, nncli.data.csvfile; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
