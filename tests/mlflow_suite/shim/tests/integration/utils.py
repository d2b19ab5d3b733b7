"""MLflow's CLI driven in-process with click's runner, failing the test on a non-zero exit."""

from click.testing import CliRunner


def invoke_cli_runner(*args, **kwargs):
    result = CliRunner().invoke(*args, **kwargs)
    assert result.exit_code == 0, "CLI failed (exit %s): %s\n%s" % (
        result.exit_code, result.output, result.exception)
    return result
