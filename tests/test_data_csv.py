"""CSV reading: tables, chunks, dialects, and every bad-file error naming its row and column."""

import io

import numpy as np
import pytest

from nncli.data.csvfile import Dialect, iter_csv_chunks, read_csv
from nncli.errors import InputError


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_numeric_and_text_columns(tmp_path):
    t = read_csv(write(tmp_path, "a,b,label\n1,2.5,cat\n3,-4e2,dog\n4, 5 ,cat\n"))
    assert t.names == ["a", "b", "label"] and t.n_rows == 3
    a, b, label = (t.column(j) for j in range(3))
    assert a.is_numeric and b.numbers.tolist() == [2.5, -400.0, 5.0]  # spaces around a number
    assert not label.is_numeric and label.labels().tolist() == ["cat", "dog", "cat"]
    assert label.levels == ["cat", "dog"] and label.codes.tolist() == [0, 1, 0]


def test_words_that_look_like_bools_or_dates_stay_text(tmp_path):
    t = read_csv(write(tmp_path, "flag,day\ntrue,2020-01-01\nFalse,2020-01-02\n"))
    assert t.column(0).labels().tolist() == ["true", "False"]
    assert t.column(1).labels().tolist() == ["2020-01-01", "2020-01-02"]


def test_no_header_names_columns_x1_to_xk(tmp_path):
    t = read_csv(write(tmp_path, "1,2,3\n4,5,6\n"), Dialect(header=False))
    assert t.names == ["x1", "x2", "x3"]
    assert t.column(2).numbers.tolist() == [3.0, 6.0]


def test_delimiter_and_bom(tmp_path):
    t = read_csv(write(tmp_path, b"\xef\xbb\xbfa;b\n1;2\n"), Dialect(delimiter=";"))
    assert t.names == ["a", "b"] and t.column(1).numbers.tolist() == [2.0]


def test_binary_file_object_and_stdin(tmp_path, monkeypatch):
    t = read_csv(io.BytesIO(b"a,b\n1,2\n"), source_name="upload.csv")
    assert t.source_name == "upload.csv" and t.column(0).numbers.tolist() == [1.0]
    fake_stdin = io.TextIOWrapper(io.BytesIO(b"a,b\n1,x\n"))
    monkeypatch.setattr("sys.stdin", fake_stdin)
    t = read_csv("-")
    assert t.source_name == "<stdin>" and t.column(1).labels().tolist() == ["x"]


def test_missing_file_and_empty_files(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(InputError, match=r"d\.csv: file is empty"):
        read_csv(write(tmp_path, ""))
    with pytest.raises(InputError, match=r"d\.csv: no data rows after the header"):
        read_csv(write(tmp_path, "a,b\n"))
    with pytest.raises(InputError, match=r"<input>: file is empty"):
        read_csv(io.BytesIO(b""))
    with pytest.raises(InputError, match=r"d\.csv: no header or data rows after skipping 3 "
                                         r"lines"):
        read_csv(write(tmp_path, "x\ny\n"), Dialect(skip_rows=3))


@pytest.mark.parametrize("data,message", [
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "not a text CSV file (it holds NUL bytes"),
    ("a,b\nM\xfcller,1\n".encode("latin-1"), "not a text CSV file: not UTF-8 text"),
])
def test_a_binary_file_is_not_a_text_csv(tmp_path, data, message):
    with pytest.raises(InputError, match=r"d\.csv: " + message.replace("(", r"\(")):
        read_csv(write(tmp_path, data))


def test_invalid_utf8_after_the_first_bytes_names_its_line(tmp_path):
    text = b"a,b\n" + b"1,x\n" * 30_000 + "2,M\xfcller\n".encode("latin-1")
    with pytest.raises(InputError, match=r"d\.csv: line 30002 is not valid UTF-8 text"):
        read_csv(write(tmp_path, text)).column(1)


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
        read_csv(write(tmp_path, "1,2,3\n4,5,6\n7,8,9,10\n"), Dialect(header=False))


def test_missing_cells_are_the_na_values(tmp_path):
    text = "a,b,c\n1,NA,x\n,?,NULL\nnan,N/A,y\n4,5,z\n"
    t = read_csv(write(tmp_path, text))
    assert [t.column(j).missing.tolist() for j in range(3)] == [
        [False, True, True, False], [True, True, True, False], [False, True, False, False]]
    assert t.column(1).is_numeric and t.column(2).levels == ["x", "y", "z"]
    t = read_csv(write(tmp_path, text), Dialect(na_values=("-",)))  # only "-" now
    assert not t.column(1).is_numeric and t.column(1).missing.tolist() == [False] * 4
    assert t.column(0).labels().tolist() == ["1", "", "nan", "4"]  # an empty cell is text too
    t = read_csv(write(tmp_path, "a\n1\nnan\n"), Dialect(na_values=("-",)))
    assert t.column(0).missing.tolist() == [False, True]  # a NaN number is never a value


def test_a_non_numeric_cell_is_reported_by_row_and_column(tmp_path):
    t = read_csv(write(tmp_path, "a,b\n1,2\n3,4\n5,abc\n"))
    with pytest.raises(InputError, match=r"row 4, column 'b': 'abc' is not a number "
                                         r"\(data.target\)$"):
        t.column(1, "numeric", "data.target")
    assert t.non_number(1) == (2, "abc")  # mostly numbers: a stray text
    assert read_csv(write(tmp_path, "a\nx\ny\n1\n")).non_number(0) is None  # mostly text


def test_non_finite_cell(tmp_path):
    t = read_csv(write(tmp_path, "a,b\n1,2\n3,inf\n"))
    with pytest.raises(InputError, match=r"row 3, column 'b': inf is not a finite number"):
        t.column(1)


def test_row_numbers_count_editor_lines_across_blank_lines_and_quoted_newlines(tmp_path):
    text = 'a,b\n1,"two\nlines"\n\n3,x\n'
    t = read_csv(write(tmp_path, text))
    with pytest.raises(InputError, match=r"row 5, column 'a': 'x' is not a number"):
        read_csv(write(tmp_path, 'b,a\n"two\nlines",1\n\n3,x\n')).column(1, "numeric")
    assert t.column(1).labels().tolist() == ["two\nlines", "x"]


def test_unknown_column_lists_the_columns_and_the_likely_one(tmp_path):
    t = read_csv(write(tmp_path, "alpha,beta\n1,2\n"))
    with pytest.raises(InputError, match=r"data.target: no column named 'z' .*; columns: "
                                         r"'alpha', 'beta'$"):
        t.column_index("z", "data.target")
    with pytest.raises(InputError, match=r"no column named 'Beta' in .*; did you mean 'beta'\? "
                                         r"columns: 'alpha', 'beta'$"):
        t.column_index("Beta", "data.target")
    with pytest.raises(InputError, match=r"data.target: column index 2 is out of range"):
        t.column_index(2, "data.target")
    assert t.column_index(-1, "data.target") == 1


def test_skip_rows_before_the_header_count_in_row_numbers(tmp_path):
    # a UCI-style first line: counts, then the class names; more fields than the header
    text = "150,4,setosa,versicolor,virginica\na,b,y\n1,2,setosa\n3,x,virginica\n"
    t = read_csv(write(tmp_path, text), Dialect(skip_rows=1))
    assert t.names == ["a", "b", "y"] and t.n_rows == 2
    with pytest.raises(InputError, match=r"row 4, column 'b': 'x' is not a number"):
        t.column(1, "numeric")


def test_comment_lines_are_left_out_but_counted(tmp_path):
    text = '# made by hand\na,b\n1,"x\n# not a comment: inside quotes"\n# a comment\n2,y\n3,z\n'
    t = read_csv(write(tmp_path, text), Dialect(comment="#"))
    assert t.n_rows == 3
    assert t.column(1).labels().tolist() == ["x\n# not a comment: inside quotes", "y", "z"]
    assert t.row_number(1) == 6 and t.row_number(2) == 7
    chunks = list(iter_csv_chunks(write(tmp_path, text), Dialect(comment="#")))
    assert sum(c.n_rows for c in chunks) == 3


def test_comment_and_skip_rows_together(tmp_path):
    # comment lines go first; skip_rows then counts the lines that are left
    text = "#c\ndescription\n#c\na,b\n1,x\n"
    t = read_csv(write(tmp_path, text), Dialect(comment="#", skip_rows=1))
    assert t.names == ["a", "b"]
    with pytest.raises(InputError, match=r"row 5, column 'b': 'x' is not a number"):
        t.column(1, "numeric")


def test_quote_char(tmp_path):
    t = read_csv(write(tmp_path, "a,b\n'x, y',1\n"), Dialect(quote_char="'"))
    assert t.column(0).labels().tolist() == ["x, y"]
    t = read_csv(write(tmp_path, 'a,b\n"x,1\n'), Dialect(quote_char=None))
    assert t.column(0).labels().tolist() == ['"x']
    with pytest.raises(InputError, match=r"delimiter, quote_char and comment must be "
                                         r"different characters"):
        read_csv(write(tmp_path, "a\n1\n"), Dialect(comment=","))


def test_chunks_cover_the_file_with_file_row_numbers(tmp_path):
    rows = "".join(f"{i},{i * 2}\n" for i in range(2000))
    path = write(tmp_path, "a,b\n" + rows + "7,x\n")
    chunks = list(iter_csv_chunks(path, block_size=4096))
    assert len(chunks) > 1
    a = np.concatenate([c.column(0).numbers for c in chunks])
    assert a.tolist() == list(range(2000)) + [7]
    with pytest.raises(InputError, match=r"row 2002, column 'b': 'x' is not a number"):
        for c in chunks:
            c.column(1, "numeric")


def test_chunks_read_only_the_columns_asked_for(tmp_path):
    # an id column that turns to text late is never converted, so never a problem
    path = write(tmp_path, "id,a\n" + "".join(f"{i},{i}\n" for i in range(3000)) + "A17,5\n")
    chunks = list(iter_csv_chunks(path, columns={"a": "feature"}, block_size=4096))
    assert all(c.names == ["a"] for c in chunks)
    assert sum(c.n_rows for c in chunks) == 3001
    with pytest.raises(InputError, match=r"d\.csv: missing target column\(s\) 'b'; the run "
                                         r"needs 'b'"):
        list(iter_csv_chunks(path, columns={"a": "feature", "b": "target"}))


def test_a_bad_cell_past_the_first_megabyte_names_its_row(tmp_path):
    lines = ["a,b"] + ["1.25,2.5"] * 200_000
    lines[150_000] = "1.25,oops"
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert path.stat().st_size > 1.5 * 2**20
    with pytest.raises(InputError, match=r"row 150001, column 'b': 'oops' is not a number"):
        read_csv(path).column(1, "numeric")
    with pytest.raises(InputError, match=r"row 150001, column 'b': 'oops' is not a number"):
        for chunk in iter_csv_chunks(path, columns={"b": "feature"}):
            chunk.column(0, "numeric")


def test_a_header_longer_than_a_block_is_read(tmp_path):
    names = [f"feature_with_a_long_name_{j}" for j in range(3000)]  # about 90 KB of header
    path = write(tmp_path, ",".join(names) + "\n" + ",".join(["1"] * 3000) + "\n"
                 + ",".join(["2"] * 3000) + "\n")
    t = read_csv(path)
    assert t.names == names and t.column(2999).numbers.tolist() == [1.0, 2.0]
    chunks = list(iter_csv_chunks(path, columns={names[-1]: "feature"}, block_size=4096))
    assert sum(c.n_rows for c in chunks) == 2
    assert chunks[0].column(0).numbers.tolist() == [1.0, 2.0]


def test_a_line_longer_than_a_block_is_read(tmp_path):
    long_text = "x" * 20_000
    rows = [f"{i},short" for i in range(500)] + [f"500,{long_text}"] + \
           [f"{i},short" for i in range(501, 1000)]
    path = write(tmp_path, "a,b\n" + "\n".join(rows) + "\n")
    chunks = list(iter_csv_chunks(path, block_size=4096))
    a = np.concatenate([c.column(0).numbers for c in chunks])
    assert a.tolist() == list(range(1000))  # every row once, in order, after the restart
    b = np.concatenate([c.column(1).labels() for c in chunks])
    assert b[500] == long_text
    assert chunks[-1].row_number(chunks[-1].n_rows - 1) == 1001


def test_csv_module_never_imports_sklearn():
    import subprocess
    import sys

    code = "import sys, nncli.data.csvfile; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
