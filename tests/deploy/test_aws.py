"""deploy/aws.py: the deploy flow's AWS calls against moto (no credentials, no network).

moto's CloudFormation cannot create the real template's RDS-managed secret, so the deploy
flow runs on a small template with the same parameters and outputs (ECR repository, ECS
cluster, task definition and service). It avoids what moto does not do as CloudFormation
does: it names the repository and cluster (moto renames unnamed ones on every update) and
has no conditions (moto does not evaluate them again on update). moto does not
re-register the task definition on update either, so these tests follow the ImageTag
parameter the deploy sets, not the container's image. It takes the repository's
EncryptionConfiguration in the ECR API's spelling (encryptionType), and replaces a KMS repository
on every update (it compares the key it made up), so the stand-in's repository is AES256.
The real template is checked by cfn-lint and checkov (`make lint-deploy`) and, in test_template.py,
for what the deployment relies on.
"""

import pytest

from deploy.aws import (
    DeployError,
    Waiting,
    connection_budget_check,
    deploy,
    registry_login,
    stack_deploy,
    stack_describe,
    stack_outputs,
)
from tests.deploy.conftest import REGION, STACK

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
  MaxCount: {Type: Number, Default: 4}
  WebConcurrency: {Type: Number, Default: 2}
  DBInstanceClass: {Type: String, Default: db.t4g.micro}
  UseRdsProxy: {Type: String, Default: "false"}
  RepositoryEncryption: {Type: String, Default: AES256}
Resources:
  Repository:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: !Ref AWS::StackName
      EncryptionConfiguration:
        encryptionType: !Ref RepositoryEncryption
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
    kwargs.setdefault("template_body", MOTO_TEMPLATE)
    url = deploy(session, stack_name=STACK, build_and_push=registry, waiting=NO_WAIT, out=lines.append, **kwargs)
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

def test_the_registry_login_comes_from_ecr(aws):
    login = registry_login(aws.client("ecr"))

    assert login.username == "AWS"
    assert login.registry.endswith(f".dkr.ecr.{REGION}.amazonaws.com")
    assert login.password


def test_a_repository_made_before_kms_encryption_is_kept_with_its_images(aws, network):
    # The stack as the template made it before: no RepositoryEncryption, so an AES256 repository.
    before = MOTO_TEMPLATE.replace("  RepositoryEncryption: {Type: String, Default: AES256}\n", "").replace(
        "      EncryptionConfiguration:\n        encryptionType: !Ref RepositoryEncryption\n", ""
    )
    now = MOTO_TEMPLATE.replace("Default: AES256}", "Default: KMS}")
    assert before != MOTO_TEMPLATE != now
    run_deploy(aws, FakeRegistry(aws), parameters=network, image_tag="v1", template_body=before)
    repository_uri = aws.client("ecr").describe_repositories()["repositories"][0]["repositoryUri"]

    _, lines = run_deploy(aws, FakeRegistry(aws), image_tag="v2", template_body=now)

    # Replacing it (ECR cannot re-encrypt) would have lost v1: moto refuses to delete a repository with images.
    assert stack_parameters(aws)["RepositoryEncryption"] == "AES256"
    [repository] = aws.client("ecr").describe_repositories()["repositories"]
    assert repository["repositoryUri"] == repository_uri
    tags = {image["imageTag"] for image in aws.client("ecr").list_images(repositoryName=STACK)["imageIds"]}
    assert tags == {"v1", "v2"}
    assert any("encrypted with AES256" in line for line in lines)


def test_the_kms_key_of_an_existing_stack_cannot_be_changed(aws, network):
    run_deploy(aws, FakeRegistry(aws), parameters=network, image_tag="v1")
    registry = FakeRegistry(aws)
    key = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    with pytest.raises(DeployError, match="KmsKeyArn can only be set when the stack is created"):
        run_deploy(aws, registry, image_tag="v2", parameters={"KmsKeyArn": key})

    assert registry.pushed == []
    assert stack_parameters(aws)["ImageTag"] == "v1"


# --- The connection budget, as python -m deploy checks it ----------------------------------------


def test_a_deploy_over_the_connection_budget_is_refused_before_anything_is_made(aws, network):
    registry = FakeRegistry(aws)

    # db.t4g.micro: 2 x 22 tasks x 2 workers + 5 = 93 connections > 89 (80% of 112).
    with pytest.raises(DeployError, match="over the database's connection budget") as refused:
        run_deploy(aws, registry, parameters={**network, "MaxCount": "22"})

    message = str(refused.value)
    assert "= 93 connections" in message and "max_connections 112" in message and "budget is 80% of it, 89" in message
    assert "the largest MaxCount at WebConcurrency 2 is 21" in message
    # small: (180 - 4) // 4 = 44, within MaxCount's own limit of 40.
    assert "(db.t4g.small takes up to 40; db.t4g.medium takes up to 40; db.t4g.large takes up to 40)" in message
    assert "UseRdsProxy=true" in message
    assert registry.pushed == []
    assert stack_describe(aws.client("cloudformation"), STACK) is None


def test_the_largest_maxcount_within_the_budget_deploys(aws, network):
    run_deploy(aws, FakeRegistry(aws), parameters={**network, "MaxCount": "21"})

    assert stack_parameters(aws)["MaxCount"] == "21"


def test_an_update_is_checked_against_the_stacks_own_database_class(aws, network):
    # db.t4g.medium (budget 360) takes 30 tasks of 2 workers: 2 x 30 x 2 + 5 = 125.
    run_deploy(aws, FakeRegistry(aws), parameters={**network, "MaxCount": "30", "DBInstanceClass": "db.t4g.medium"})
    run_deploy(aws, FakeRegistry(aws), image_tag="v2")
    registry = FakeRegistry(aws)

    # 2 x 30 x 6 + 5 = 365 > 360.
    with pytest.raises(DeployError, match="= 365 connections, but db.t4g.medium has max_connections 450"):
        run_deploy(aws, registry, image_tag="v3", parameters={"WebConcurrency": "6"})

    assert registry.pushed == []
    assert stack_parameters(aws)["ImageTag"] == "v2"


def test_rds_proxy_lifts_the_budget(aws, network):
    parameters = {**network, "MaxCount": "40", "WebConcurrency": "8", "UseRdsProxy": "true"}

    run_deploy(aws, FakeRegistry(aws), parameters=parameters)

    assert stack_parameters(aws)["UseRdsProxy"] == "true"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"DBInstanceClass": "db.t3.micro"}, "DBInstanceClass 'db.t3.micro' is not one the template allows"),
        ({"MaxCount": "four"}, "must be whole numbers"),
        ({"WebConcurrency": "0"}, "must be at least 1"),
        ({"MaxCount": "1", "WebConcurrency": "43"}, "no MaxCount fits WebConcurrency 43"),  # 2 x 43 + 5 = 91
    ],
)
def test_a_budget_parameter_the_check_cannot_use_gets_a_clear_error(template, values, message):
    base = {"DBInstanceClass": "db.t4g.micro", "MaxCount": "4", "WebConcurrency": "2", "UseRdsProxy": "false"}

    with pytest.raises(DeployError, match=message):
        connection_budget_check(template, {**base, **values})
