"""`python -m deploy`: its AWS calls against moto (no credentials, no network), and the template it deploys.

moto's CloudFormation cannot create the real template's RDS-managed secret, so the deploy
flow runs on a small template with the same parameters and outputs (ECR repository, ECS
cluster, task definition and service). It avoids what moto does not do as CloudFormation
does: it names the repository and cluster (moto renames unnamed ones on every update) and
has no conditions (moto does not evaluate them again on update). moto does not
re-register the task definition on update either, so these tests follow the ImageTag
parameter the deploy sets, not the container's image. The real template is checked by cfn-lint
(`make lint-deploy`) and, below, for what the deployment relies on.
"""

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from cfnlint.decode import decode_str
from moto import mock_aws

from deploy.__main__ import PARAMETER_OPTIONS
from deploy.aws import (
    REQUIRED_ON_CREATE,
    TEMPLATE_PATH,
    DeployError,
    Waiting,
    deploy,
    registry_login,
    stack_deploy,
    stack_describe,
    stack_outputs,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACK = "insurance-test"
REGION = "eu-west-1"
NO_WAIT = Waiting(delay=1, max_attempts=3)
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST = '{"schemaVersion": 2, "mediaType": "%s", "layers": []}' % MANIFEST_TYPE

MOTO_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  VpcId: {Type: String}
  PublicSubnetIds: {Type: String}
  PrivateSubnetIds: {Type: String}
  ImageTag: {Type: String, Default: ""}
  DesiredCount: {Type: Number, Default: 2}
Resources:
  Repository:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: !Ref AWS::StackName
  Cluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: !Ref AWS::StackName
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !Ref AWS::StackName
      RequiresCompatibilities: [FARGATE]
      NetworkMode: awsvpc
      Cpu: "1024"
      Memory: "2048"
      ContainerDefinitions:
        - Name: web
          Image: !Sub "${Repository.RepositoryUri}:${ImageTag}"
          PortMappings: [{ContainerPort: 5000}]
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: !Ref Cluster
      LaunchType: FARGATE
      TaskDefinition: !Ref TaskDefinition
      DesiredCount: !Ref DesiredCount
Outputs:
  ServiceUrl: {Value: !Sub "http://${AWS::StackName}-alb.${AWS::Region}.elb.example/"}
  RepositoryUri: {Value: !GetAtt Repository.RepositoryUri}
  ClusterName: {Value: !Ref Cluster}
  ServiceName: {Value: !GetAtt Service.Name}
"""


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
    # DesiredCount is given because moto, unlike CloudFormation, cannot keep a defaulted parameter's previous value.
    return {
        "VpcId": vpc,
        "PublicSubnetIds": ",".join(subnets[:2]),
        "PrivateSubnetIds": ",".join(subnets[2:]),
        "DesiredCount": "2",
    }


class FakeRegistry:
    """Stands in for docker/buildah: records each build and push, and puts the image into moto's ECR."""

    def __init__(self, session):
        self.ecr = session.client("ecr")
        self.pushed = []

    def __call__(self, image_uri, login):
        self.pushed.append((image_uri, login))
        repository, tag = image_uri.split("/", 1)[1].split(":")
        self.ecr.put_image(repositoryName=repository, imageManifest=MANIFEST, imageManifestMediaType=MANIFEST_TYPE, imageTag=tag)


def run_deploy(session, registry, **kwargs):
    lines = []
    kwargs.setdefault("image_tag", "abc123")
    url = deploy(
        session, stack_name=STACK, build_and_push=registry, template_body=MOTO_TEMPLATE, waiting=NO_WAIT, out=lines.append, **kwargs
    )
    return url, lines


def stack_parameters(session):
    stack = session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def service_of(session):
    outputs = stack_outputs(stack_describe(session.client("cloudformation"), STACK))
    ecs = session.client("ecs")
    return ecs.describe_services(cluster=outputs["ClusterName"], services=[outputs["ServiceName"]])["services"][0]


def test_a_first_deploy_creates_the_stack_pushes_the_image_and_runs_it(aws, network):
    registry = FakeRegistry(aws)

    url, lines = run_deploy(aws, registry, parameters=network)

    repository_uri = aws.client("ecr").describe_repositories()["repositories"][0]["repositoryUri"]
    assert [uri for uri, _ in registry.pushed] == [f"{repository_uri}:abc123"]
    login = registry.pushed[0][1]
    assert login.registry == repository_uri.split("/")[0]
    assert login.username == "AWS" and login.password
    assert stack_parameters(aws)["ImageTag"] == "abc123"
    assert service_of(aws)["desiredCount"] == 2
    assert url == f"http://{STACK}-alb.{REGION}.elb.example/"
    assert any("Creating stack" in line for line in lines)


def test_the_image_is_pushed_before_the_service_is_asked_to_run_it(aws, network):
    seen = []

    def registry(image_uri, login):
        # At push time the stack exists (it made the repository) and has not been given the tag yet.
        seen.append(stack_parameters(aws)["ImageTag"])
        FakeRegistry(aws)(image_uri, login)

    run_deploy(aws, registry, parameters=network)

    assert seen == [""]
    assert stack_parameters(aws)["ImageTag"] == "abc123"


def test_an_update_keeps_the_parameters_it_is_not_given(aws, network):
    run_deploy(aws, FakeRegistry(aws), parameters=network)

    run_deploy(aws, FakeRegistry(aws), image_tag="def456")

    parameters = stack_parameters(aws)
    assert parameters["ImageTag"] == "def456"
    assert parameters["VpcId"] == network["VpcId"]
    assert parameters["PrivateSubnetIds"] == network["PrivateSubnetIds"]


def test_deploying_a_tag_already_in_the_registry_rolls_back_without_building(aws, network):
    run_deploy(aws, FakeRegistry(aws), parameters=network, image_tag="v1")
    run_deploy(aws, FakeRegistry(aws), image_tag="v2")
    registry = FakeRegistry(aws)

    _, lines = run_deploy(aws, registry, image_tag="v1")

    assert registry.pushed == []
    assert any("already in the registry" in line for line in lines)
    assert stack_parameters(aws)["ImageTag"] == "v1"


def test_creating_the_stack_needs_the_network_parameters(aws):
    registry = FakeRegistry(aws)

    with pytest.raises(DeployError, match="VpcId, PublicSubnetIds, PrivateSubnetIds"):
        run_deploy(aws, registry, parameters={"DesiredCount": "1"})

    assert registry.pushed == []
    assert stack_describe(aws.client("cloudformation"), STACK) is None


def test_a_failed_build_leaves_the_running_service_alone(aws, network):
    run_deploy(aws, FakeRegistry(aws), parameters=network, image_tag="good")

    def broken_build(image_uri, login):
        raise DeployError("`docker build` failed")

    with pytest.raises(DeployError, match="docker build"):
        run_deploy(aws, broken_build, image_tag="broken")

    assert stack_parameters(aws)["ImageTag"] == "good"


def test_a_stack_that_failed_to_create_is_reported_with_what_to_do(aws):
    cfn = aws.client("cloudformation")
    stack = {"StackName": STACK, "StackStatus": "ROLLBACK_COMPLETE"}
    cfn.describe_stacks = lambda **kwargs: {"Stacks": [stack]}

    with pytest.raises(DeployError, match="delete-stack --stack-name insurance-test"):
        stack_deploy(cfn, stack_name=STACK, template_body=MOTO_TEMPLATE, parameters={}, out=lambda line: None)


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


def test_the_registry_login_comes_from_ecr(aws):
    login = registry_login(aws.client("ecr"))

    assert login.username == "AWS"
    assert login.registry.endswith(f".dkr.ecr.{REGION}.amazonaws.com")
    assert login.password


# --- The real template -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template():
    decoded, matches = decode_str(TEMPLATE_PATH.read_text())
    assert not matches, matches
    return decoded


def test_the_template_takes_every_parameter_the_deploy_command_sets(template):
    given = set(PARAMETER_OPTIONS.values()) | set(REQUIRED_ON_CREATE) | {"ImageTag"}

    assert given <= set(template["Parameters"])


def test_the_template_has_the_outputs_the_deploy_command_reads(template):
    assert {"RepositoryUri", "ClusterName", "ServiceName", "ServiceUrl"} <= set(template["Outputs"])


def test_the_service_runs_the_image_on_port_5000_behind_the_load_balancer_health_check(template):
    resources = template["Resources"]
    container = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["PortMappings"][0]["ContainerPort"] == 5000
    assert resources["TargetGroup"]["Properties"]["HealthCheckPath"] == "/healthz"
    assert resources["TargetGroup"]["Properties"]["Port"] == 5000
    assert resources["Service"]["Properties"]["EnableExecuteCommand"] is True
    assert resources["Service"]["Properties"]["LoadBalancers"][0]["ContainerPort"] == 5000


def test_the_tasks_get_every_setting_the_entrypoint_requires(template):
    container = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    names = {item["Name"] for item in container["Environment"]} | {item["Name"] for item in container["Secrets"]}
    entrypoint = (PROJECT_DIR / "docker" / "entrypoint").read_text()

    # The entrypoint builds DATABASE_URL from these parts and requires the other two.
    assert {"DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"} <= names
    for name in ("DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"):
        assert name in entrypoint
    assert {item["Name"] for item in container["Secrets"]} == {"DB_USER", "DB_PASSWORD", "DJANGO_SECRET_KEY"}


def test_the_service_runs_no_task_until_an_image_tag_is_given(template):
    service = template["Resources"]["Service"]["Properties"]

    assert template["Parameters"]["ImageTag"]["Default"] == ""
    assert template["Conditions"]["HasImage"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ImageTag"}, ""]}]}
    assert service["DesiredCount"] == {"Fn::If": ["HasImage", {"Ref": "DesiredCount"}, 0]}


def test_the_database_is_private_with_a_managed_password(template):
    database = template["Resources"]["Database"]["Properties"]
    assert database["ManageMasterUserPassword"] is True
    assert database["PubliclyAccessible"] is False
    assert "MasterUserPassword" not in database


def test_https_is_added_only_when_a_certificate_is_given(template):
    assert template["Resources"]["HttpsListener"]["Condition"] == "HasCertificate"
    assert template["Conditions"]["HasCertificate"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}


def test_monitor_report_runs_daily_as_a_one_off_task_of_the_same_image(template):
    import json

    resources = template["Resources"]
    rule = resources["MonitorScheduleRule"]
    assert rule["Condition"] == "HasMonitorSchedule"
    assert template["Parameters"]["MonitorSchedule"]["Default"] == "cron(0 6 * * ? *)"  # daily, 06:00 UTC
    # Only with an image to run, and never with an empty schedule.
    assert template["Conditions"]["HasMonitorSchedule"] == {
        "Fn::And": [{"Condition": "HasImage"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "MonitorSchedule"}, ""]}]}]
    }
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "MonitorSchedule"}
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}
    ecs = target["EcsParameters"]
    assert ecs["TaskDefinitionArn"] == {"Ref": "TaskDefinition"} and ecs["LaunchType"] == "FARGATE"
    network = ecs["NetworkConfiguration"]["AwsVpcConfiguration"]
    # The service's subnets and security group: the one the database lets in.
    assert network["Subnets"] == {"Ref": "PrivateSubnetIds"}
    assert network["SecurityGroups"] == [{"Ref": "ServiceSecurityGroup"}]
    assert resources["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"][0]["SourceSecurityGroupId"] == {
        "Ref": "ServiceSecurityGroup"
    }
    assert json.loads(target["Input"]) == {
        "containerOverrides": [{"name": "web", "command": ["python", "manage.py", "monitor_report"]}]
    }
    # The container's command: the entrypoint still runs first (it builds DATABASE_URL); the output goes to the logs.
    container = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["Name"] == "web" and container["LogConfiguration"]["LogDriver"] == "awslogs"
    statements = resources["MonitorScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {statement["Action"] for statement in statements} == {"ecs:RunTask", "iam:PassRole"}


def test_an_email_is_sent_only_when_the_scheduled_report_exits_1(template):
    resources = template["Resources"]
    rule = resources["MonitorAlertRule"]
    assert rule["Condition"] == resources["MonitorAlertTopic"]["Condition"] == "HasMonitorAlertEmail"
    assert template["Parameters"]["MonitorAlertEmail"]["Default"] == ""
    detail = rule["Properties"]["EventPattern"]["detail"]
    schedule_group = resources["MonitorScheduleRule"]["Properties"]["Targets"][0]["EcsParameters"]["Group"]
    assert detail["group"] == [schedule_group]
    assert detail["lastStatus"] == ["STOPPED"] and detail["containers"] == {"exitCode": [1]}
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": "MonitorAlertTopic"}
