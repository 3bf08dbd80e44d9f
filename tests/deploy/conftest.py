"""The deploy tests' shared fixtures: a moto account with a network, and the real template decoded."""

from pathlib import Path

import boto3
import pytest
from cfnlint.decode import decode_str
from moto import mock_aws

from deploy.aws import TEMPLATE_PATH

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
STACK = "insurance-test"
REGION = "eu-west-1"

BUDGET_DEFAULTS = {"MaxCount": "4", "WebConcurrency": "2", "DBInstanceClass": "db.t4g.micro", "UseRdsProxy": "false"}


@pytest.fixture
def aws(monkeypatch):
    """A moto account: fake credentials, no network, and ECS services that report their tasks running."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "2")
    with mock_aws():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def network(aws):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{'abab'[i]}")["Subnet"]["SubnetId"]
        for i in range(4)
    ]
    # DesiredCount and the budget's parameters are given because moto, unlike CloudFormation, cannot keep a
    # defaulted parameter's previous value.
    return {
        "VpcId": vpc,
        "PublicSubnetIds": ",".join(subnets[:2]),
        "PrivateSubnetIds": ",".join(subnets[2:]),
        "DesiredCount": "2",
        **BUDGET_DEFAULTS,
    }


@pytest.fixture(scope="module")
def template():
    decoded, matches = decode_str(TEMPLATE_PATH.read_text())
    assert not matches, matches
    return decoded
