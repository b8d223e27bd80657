"""failure_message: the action names the file; the error's own leading copy of the name goes."""

from __future__ import annotations

from core import ModelFileError
from core.data import DataError
from nnstudio.messages import failure_message


def test_a_leading_file_name_is_not_repeated():
    assert failure_message("Could not open m.nnz", "m.nnz", ModelFileError("m.nnz: not an nnstudio model file")) \
        == "Could not open m.nnz: not an nnstudio model file"
    assert failure_message("Could not import bad.csv", "bad.csv", DataError("bad.csv, line 3, column 2: 'abc' is "
                                                                            "not a number")) \
        == "Could not import bad.csv: line 3, column 2: 'abc' is not a number"


def test_other_reasons_are_kept_whole():
    error = FileNotFoundError(2, "No such file or directory")
    assert failure_message("Could not open m.nnz", "m.nnz", error) == f"Could not open m.nnz: {error}"
    # the name elsewhere in the sentence, or a longer name that starts the same, stays
    assert failure_message("Could not open m.nnz", "m.nnz", ModelFileError("cannot read m.nnz")) \
        == "Could not open m.nnz: cannot read m.nnz"
    assert failure_message("Could not open m.nnz", "m.nnz", ModelFileError("m.nnz.bak: damaged")) \
        == "Could not open m.nnz: m.nnz.bak: damaged"
