"""The argparse number types shared by the CLI's commands: ranges, no NaN or infinity."""

from __future__ import annotations

import argparse

import pytest

from app.cli.args import finite_float, fraction, in_range, int_between, positive_int
from app.cli.entry import main
from app.core.ranges import Range


def parse(kind, text: str):
    parser = argparse.ArgumentParser(prog="sieve")
    parser.add_argument("--x", type=kind)
    return parser.parse_args([f"--x={text}"]).x


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        (positive_int, "3", 3),
        (fraction, "0", 0.0),
        (fraction, "1", 1.0),
        (finite_float(0, low_open=True), "1e-6", 1e-6),
        (int_between(8, 4096), "4096", 4096),
        (in_range(Range(-1, 1)), "-0.5", -0.5),
    ],
)
def test_numbers_in_range_are_read(kind, text, value):
    assert parse(kind, text) == value


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (positive_int, "0", "must be an integer >= 1, not 0"),
        (positive_int, "1.5", "must be an integer >= 1, not 1.5"),
        (positive_int, "three", "must be an integer >= 1, not 'three'"),
        (fraction, "nan", "must be a finite number in [0, 1], not nan"),
        (fraction, "1.01", "must be a finite number in [0, 1], not 1.01"),
        (finite_float(0, low_open=True), "0", "must be a finite number > 0, not 0"),
        (finite_float(), "inf", "must be a finite number, not inf"),
        (finite_float(), "-Infinity", "must be a finite number, not -Infinity"),
        (int_between(8, 4096), "4", "must be an integer from 8 to 4096, not 4"),
    ],
)
def test_numbers_out_of_range_are_argparse_errors(capsys, kind, text, message):
    with pytest.raises(SystemExit) as exited:
        parse(kind, text)
    assert exited.value.code == 2
    assert f"sieve: error: argument --x: {message}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["index", "data", "--video-fps", "inf"],
        ["index", "data", "--every-nth", "0"],
        ["embed", "p", "--image-size", "nan"],
        ["embed", "p", "--image-size", "100000"],
        ["map", "p", "--min-dist", "nan"],
        ["duplicates", "p", "--threshold", "0"],
        ["select", "p", "--n", "5", "--min-distance", "-1"],
        ["select", "p", "--n", "5", "--seed", "-3"],
        ["export", "p", "--tag", "t", "--out", "o", "--val-fraction", "1"],
        ["label-next", "p", "--seed", "1e9x"],
    ],
)
def test_every_commands_numeric_flags_are_range_checked(argv, capsys):
    """Bad numbers stop at the parser (exit 2) with the range, before any project is opened."""
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == 2
    assert "argument" in capsys.readouterr().err
