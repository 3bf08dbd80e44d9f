"""deploy/__main__.py: `python -m deploy`'s command line, as a user meets it."""

import os
import subprocess
import sys

from deploy.__main__ import main
from deploy.aws import stack_describe
from tests.deploy.conftest import PROJECT_DIR, REGION, STACK


def test_without_aws_credentials_it_stops_with_a_clear_message(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": REGION,
    }

    result = subprocess.run(
        [sys.executable, "-m", "deploy", "--image-tag", "abc123"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1
    assert "No AWS credentials found" in result.stderr
    assert "aws configure" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_line_says_what_to_change_over_budget(aws, network, capsys):
    argv = ["--region", REGION, "--image-tag", "abc123", "--max-count", "11", "--web-concurrency", "4"]
    argv += ["--vpc-id", network["VpcId"], "--public-subnets", network["PublicSubnetIds"]]
    argv += ["--private-subnets", network["PrivateSubnetIds"]]

    assert main(argv) == 1

    error = capsys.readouterr().err
    # 2 x 11 x 4 + 5 = 93 > 89.
    assert error.startswith("deploy: MaxCount 11 with WebConcurrency 4 is over the database's connection budget")
    assert "the largest MaxCount at WebConcurrency 4 is 10" in error and "Traceback" not in error
    assert stack_describe(aws.client("cloudformation"), STACK) is None

