"""The console's one-line messages and the route of library warnings to them."""

import warnings

from nncli.cli.app import _show_warning
from nncli.cli import console
from nncli.errors import NncliWarning


def test_numbers_have_the_asked_significant_digits_and_a_dash_for_undefined():
    assert console.number(0.123456789) == "0.123457"
    assert console.number(0.123456789, 4) == "0.1235"
    assert console.number(None) == "-"


def test_warning_is_one_escaped_line(capsys):
    console.warning("two\nlines")
    assert capsys.readouterr().err == "warning: two\\nlines\n"


def test_library_warnings_become_warning_lines_and_others_stay_python_warnings(capsys):
    with warnings.catch_warnings(record=True) as python_warnings:
        warnings.simplefilter("always")
        warnings.showwarning = _show_warning
        warnings.warn(NncliWarning("3 rows without a target were dropped"))
        warnings.warn(UserWarning("from another library"))
    assert capsys.readouterr().err == "warning: 3 rows without a target were dropped\n"
    assert [str(w.message) for w in python_warnings] == ["from another library"]
