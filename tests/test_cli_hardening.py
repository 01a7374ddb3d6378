"""The command line answers bad input and broken outputs with messages and exit codes (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from matgrad.cli import main
from matgrad.testing import check_objective


def run(*argv: str, env: dict[str, str] | None = None, stdout: int | None = subprocess.PIPE):
    return subprocess.run(
        [sys.executable, "-m", "matgrad", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--objective", "bogus"], "no objective 'bogus'"),
        (["check", "--sizes", "999999999"], "gradient checks are for small sizes"),
        (["derive", "sum(X)", "X=n,k", "X=k"], "X is declared twice"),
    ],
)
def test_bad_input_is_a_message_and_exit_code_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_negative_seed_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--seed", "-1"])
    assert exit_.value.code == 2 and "non-negative integer" in capsys.readouterr().err


def test_an_expression_starting_with_minus_is_the_expression(capsys):
    assert main(["derive", "-sum(X)", "--no-proof", "X=n,k"]) == 0
    assert "∂f/∂X" in capsys.readouterr().out


def test_derive_json_prints_an_error_object_on_stdout(capsys):
    assert main(["derive", "sum(X", "--json", "--no-proof"]) == 2
    error = json.loads(capsys.readouterr().out)
    assert error["exit_code"] == 2 and error["error"] == "ExpressionSyntaxError"


def test_every_subcommand_documents_its_exit_codes(capsys):
    for command in ("check", "derive", "verify"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "exit status" in capsys.readouterr().out


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_an_ascii_terminal_gets_ascii_math(encoding):
    result = run("derive", "sqnorm(X @ W + b)", "--no-proof", env={"PYTHONIOENCODING": encoding})
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode(encoding)
    assert "df/dW = 2X^T(XW + b)" in out


def test_a_full_disk_is_a_message_not_a_traceback():
    with open("/dev/full", "w") as full:
        result = run("list", stdout=full.fileno())
    assert result.returncode == 3
    assert b"cannot write the output" in result.stderr and b"Traceback" not in result.stderr


def test_check_objective_names_the_choices_for_a_module_name():
    with pytest.raises(KeyError, match=r"sigmoid_net\.pre"):
        check_objective("sigmoid_net")
    assert check_objective("sigmoid_net.post", method="complex").passed


def test_matgrad_list_prints_the_row_form_of_bias_gradients(capsys):
    assert main(["list"]) == 0
    assert "2(XW + b) / 2·1ₙᵀ(XW + b)" in capsys.readouterr().out


def test_masked_arrays_are_refused_not_silently_unmasked():
    from matgrad import affine

    X = np.ma.masked_array(np.ones((3, 2)), mask=[[0, 0], [1, 0], [0, 0]])
    with pytest.raises(TypeError, match="masked array"):
        affine.value(X, np.ones((2, 4)), np.ones(4))


def test_float16_is_computed_in_float32():
    from matgrad import affine

    half = [np.full(shape, 200, np.float16) for shape in ((3, 2), (2, 4), (4,))]
    value, grads = affine.value_and_grad(*half)
    assert np.isfinite(value) and value.dtype == np.float32  # 3·4·(2·200² + 200)² overflows float16
    assert all(g.dtype == np.float32 for g in grads.values())
