"""The deploy logic behind `python -m deploy` (README, "Deploy to AWS Fargate").

The steps: check the AWS credentials; check the database connection budget (MaxCount x
WebConcurrency against the DB class, as the template's ConnectionBudget rule does); make sure the CloudFormation stack of
`deploy/template.yaml` exists (its first creation makes the ECR repository, with the
service at zero tasks until an image is there); log in to the registry; build, tag and
push the image, unless that tag is already there (a rollback); update the stack to run
that tag; wait for the service to be stable; return the public URL.

Every AWS call goes through a boto3 session passed in, and the container build and push
through a function passed in, so the tests run all of it against moto.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError, WaiterError
from cfnlint.decode import decode_str

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = Path(__file__).with_name("template.yaml")
DEFAULT_STACK_NAME = "insurance-charges"
# Parameters a new stack cannot do without (the template has defaults for the rest).
REQUIRED_ON_CREATE = ("VpcId", "PublicSubnetIds", "PrivateSubnetIds")
# Parameters only a new stack may set: changing them replaces the database and the image repository
# (RDS and ECR cannot re-encrypt with another key).
FIXED_AFTER_CREATE = ("KmsKeyArn",)

# The database connection budget (README, "Deploy to AWS Fargate"), the sum the template's ConnectionBudget
# rule checks: a rolling deployment (MaximumPercent 200) runs up to DEPLOYMENT_SURGE x MaxCount tasks,
# each with WebConcurrency sync workers holding one connection, and the one-off tasks (monitor_report,
# challenger_score, purge_predictions, purge_access_log, migrate) one each; together within the class's Budget (80% of
# max_connections, from the template's DatabaseConnections mapping). RDS Proxy lifts it.
DEPLOYMENT_SURGE = 2
ONE_OFF_HEADROOM = 5
BUDGET_PARAMETERS = ("DBInstanceClass", "WebConcurrency", "MaxCount", "UseRdsProxy")

NO_CREDENTIALS = (
    "No AWS credentials found. Configure them first, for example with `aws configure` "
    "(or `aws sso login --profile NAME` and AWS_PROFILE=NAME), or set AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY; then run `make deploy` again."
)
NO_REGION = "No AWS region set: give --region REGION or set AWS_REGION (e.g. AWS_REGION=eu-west-1), or configure one with `aws configure`."


class DeployError(Exception):
    """Something the person deploying has to fix; the message says what."""


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials for `docker login` to the account's ECR registry."""

    registry: str
    username: str
    password: str


BuildAndPush = Callable[[str, RegistryLogin], None]
"""Builds the project's image as the given `REPOSITORY_URI:TAG`, then pushes it."""


@dataclass(frozen=True)
class Waiting:
    """How often and how long to poll AWS while a stack or the service settles."""

    delay: int = 15
    max_attempts: int = 240


def credentials_check(session) -> str:
    """The account id the session's credentials belong to, or a DeployError that says how to set them up."""
    if session.region_name is None:
        raise DeployError(NO_REGION)
    if session.get_credentials() is None:
        raise DeployError(NO_CREDENTIALS)
    try:
        return session.client("sts").get_caller_identity()["Account"]
    except NoCredentialsError as exc:
        raise DeployError(NO_CREDENTIALS) from exc
    except ClientError as exc:
        raise DeployError(f"AWS refused these credentials ({exc.response['Error']['Message']}). {NO_CREDENTIALS}") from exc


def image_tag_default(project_dir: Path = PROJECT_DIR) -> str:
    """The current commit's short hash, marked with the time when the work tree has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project_dir, check=True, capture_output=True, text=True).stdout.strip()

    try:
        tag = git("rev-parse", "--short=12", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError) as exc:
        raise DeployError("Could not read the git commit to tag the image with; give --image-tag TAG") from exc
    if dirty:
        tag += "-dirty-" + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    return tag


def stack_describe(cfn, stack_name: str) -> dict[str, Any] | None:
    """The stack's description, or None when there is no such stack."""
    try:
        return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in exc.response["Error"]["Message"]:
            return None
        raise


def stack_outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def stack_parameters(stack: Mapping[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def fixed_parameters_check(stack: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
    """A DeployError when the parameters change one an existing stack must keep (FIXED_AFTER_CREATE)."""
    current = stack_parameters(stack)
    for key in FIXED_AFTER_CREATE:
        if key in parameters and parameters[key] != current.get(key, ""):
            raise DeployError(
                f"{key} can only be set when the stack is created (it is {current.get(key, '') or 'empty'} on "
                f"{stack['StackName']}): changing it would replace the database and the image repository. "
                "Leave it out to keep it."
            )


def template_parse(template_body: str) -> dict[str, Any]:
    """The CloudFormation template as a dict (short-form tags such as !Ref read as their long form)."""
    template, matches = decode_str(template_body)
    if template is None:
        raise DeployError(f"The template cannot be read: {'; '.join(str(match) for match in matches)}")
    return template


def budget_parameters(
    template: Mapping[str, Any], stack: Mapping[str, Any] | None, parameters: Mapping[str, str]
) -> dict[str, str]:
    """The values the stack will run with for the budget's parameters: given, else the stack's, else the default."""
    current = stack_parameters(stack) if stack is not None else {}
    values = {}
    for key in BUDGET_PARAMETERS:
        default = str(template["Parameters"][key].get("Default", ""))
        values[key] = str(parameters.get(key, current.get(key, default)))
    return values


def max_count_largest(*, budget: int, web_concurrency: int) -> int:
    """The most tasks whose connections fit `budget` (0 when not even one does)."""
    return max((budget - ONE_OFF_HEADROOM) // (DEPLOYMENT_SURGE * web_concurrency), 0)


def connection_budget_check(template: Mapping[str, Any], values: Mapping[str, str]) -> None:
    """A DeployError, saying what to change, when the tasks could open more database connections than the budget."""
    if values["UseRdsProxy"] == "true":
        return
    classes = template["Mappings"]["DatabaseConnections"]
    db_class = values["DBInstanceClass"]
    if db_class not in classes:
        raise DeployError(f"DBInstanceClass {db_class!r} is not one the template allows: {', '.join(classes)}.")
    try:
        max_count, web_concurrency = int(values["MaxCount"]), int(values["WebConcurrency"])
    except ValueError:
        raise DeployError(
            "MaxCount and WebConcurrency must be whole numbers, "
            f"not {values['MaxCount']!r} and {values['WebConcurrency']!r}."
        ) from None
    if max_count < 1 or web_concurrency < 1:
        raise DeployError(f"MaxCount and WebConcurrency must be at least 1, not {max_count} and {web_concurrency}.")
    max_connections = int(classes[db_class]["MaxConnections"])
    budget = int(classes[db_class]["Budget"])
    peak = DEPLOYMENT_SURGE * max_count * web_concurrency + ONE_OFF_HEADROOM
    if peak <= budget:
        return
    # The largest MaxCount each class takes at this WebConcurrency, within the parameter's own limit.
    limit = int(template["Parameters"]["MaxCount"].get("MaxValue", max_count))
    takes = {
        name: min(max_count_largest(budget=int(row["Budget"]), web_concurrency=web_concurrency), limit)
        for name, row in classes.items()
    }
    largest = takes[db_class]
    fits = f"the largest MaxCount at WebConcurrency {web_concurrency} is {largest}" if largest else (
        f"no MaxCount fits WebConcurrency {web_concurrency}"
    )
    larger = [f"{name} takes up to {most}" for name, most in takes.items() if most >= max_count]
    raise DeployError(
        f"MaxCount {max_count} with WebConcurrency {web_concurrency} is over the database's connection budget: "
        f"a rolling deployment runs up to {DEPLOYMENT_SURGE} x {max_count} tasks x {web_concurrency} workers "
        f"+ {ONE_OFF_HEADROOM} one-off tasks = {peak} connections, but {db_class} has max_connections "
        f"{max_connections} and the budget is 80% of it, {budget}; {fits}. Lower --max-count or WebConcurrency "
        f"(--web-concurrency), choose a larger --db-instance-class"
        + (f" ({'; '.join(larger)})" if larger else "")
        + ", or pool the connections with --parameter UseRdsProxy=true. Nothing was changed on AWS."
    )


def repository_encryption(ecr, repository_uri: str) -> str:
    """How the repository is encrypted: KMS or AES256 (fixed when ECR made it)."""
    repository_name = repository_uri.split("/", 1)[1]
    [repository] = ecr.describe_repositories(repositoryNames=[repository_name])["repositories"]
    return repository.get("encryptionConfiguration", {}).get("encryptionType", "AES256")


def stack_deploy(
    cfn,
    *,
    stack_name: str,
    template_body: str,
    parameters: Mapping[str, str],
    waiting: Waiting = Waiting(),
    out: Callable[[str], None] = print,
) -> dict[str, str]:
    """Create the stack, or update it keeping every parameter not given; wait; return its outputs."""
    stack = stack_describe(cfn, stack_name)
    if stack is not None:
        status = stack["StackStatus"]
        if status == "ROLLBACK_COMPLETE":
            raise DeployError(
                f"Stack {stack_name} failed to create and must be deleted before trying again: "
                f"aws cloudformation delete-stack --stack-name {stack_name} (see its events for why it failed)."
            )
        if status.endswith("_IN_PROGRESS"):
            raise DeployError(f"Stack {stack_name} is busy ({status}); wait for it to finish, then deploy again.")
        fixed_parameters_check(stack, parameters)

    given = [{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()]
    common = {"StackName": stack_name, "TemplateBody": template_body, "Capabilities": ["CAPABILITY_IAM"]}
    if stack is None:
        missing = [key for key in REQUIRED_ON_CREATE if not parameters.get(key)]
        if missing:
            raise DeployError(
                f"Stack {stack_name} does not exist yet; creating it needs {', '.join(missing)} "
                "(--vpc-id, --public-subnets, --private-subnets)."
            )
        out(f"Creating stack {stack_name} (the first time takes 15-20 minutes: the database)...")
        cfn.create_stack(**common, Parameters=given, OnFailure="ROLLBACK")
        waiter_name = "stack_create_complete"
    else:
        kept = [
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in stack.get("Parameters", [])
            if p["ParameterKey"] not in parameters
        ]
        out(f"Updating stack {stack_name}...")
        try:
            cfn.update_stack(**common, Parameters=given + kept)
        except ClientError as exc:
            if "No updates are to be performed" not in exc.response["Error"]["Message"]:
                raise
            out("The stack is already up to date.")
            return stack_outputs(stack)
        waiter_name = "stack_update_complete"
    try:
        cfn.get_waiter(waiter_name).wait(
            StackName=stack_name, WaiterConfig={"Delay": waiting.delay, "MaxAttempts": waiting.max_attempts}
        )
    except WaiterError as exc:
        raise DeployError(f"Stack {stack_name} did not finish: {exc}. {stack_failure_reasons(cfn, stack_name)}") from exc
    return stack_outputs(stack_describe(cfn, stack_name))


def stack_failure_reasons(cfn, stack_name: str) -> str:
    """The latest failed resources of a stack, from its events (for the error message)."""
    events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    reasons = [
        f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
        for event in events[:50]
        if event["ResourceStatus"].endswith("_FAILED")
    ]
    return "Failed: " + "; ".join(reasons[:5]) if reasons else "See the stack's events in the CloudFormation console."


def registry_login(ecr) -> RegistryLogin:
    """A login for the account's ECR registry, valid for 12 hours."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    return RegistryLogin(registry=data["proxyEndpoint"].removeprefix("https://"), username=username, password=password)


def image_exists(ecr, repository_uri: str, tag: str) -> bool:
    """Whether the repository already holds an image with this tag."""
    repository_name = repository_uri.split("/", 1)[1]
    try:
        ecr.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ImageNotFoundException":
            return False
        raise
    return True


def container_build_and_push(image_uri: str, login: RegistryLogin) -> None:
    """Build the Dockerfile for Fargate (linux/amd64) and push it: docker where its engine answers, else buildah."""
    docker_answers = shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    if docker_answers:
        tool, build, push = "docker", ["docker", "build"], ["docker", "push", image_uri]
    elif shutil.which("buildah"):
        tool, build, push = "buildah", ["buildah", "bud", "--format", "docker"], ["buildah", "push", image_uri]
    else:
        raise DeployError("Building the image needs docker (with a running engine) or buildah on the PATH.")
    steps = [
        [tool, "login", "--username", login.username, "--password-stdin", login.registry],
        [*build, "--platform", "linux/amd64", "--tag", image_uri, str(PROJECT_DIR)],
        push,
    ]
    for step in steps:
        stdin = login.password if "login" in step else None
        if subprocess.run(step, input=stdin, text=True).returncode != 0:
            raise DeployError(f"`{' '.join(step[:2])}` failed (its output is above).")


def service_wait_stable(ecs, *, cluster: str, service: str, waiting: Waiting = Waiting()) -> None:
    """Wait until the service runs its desired count of the new task definition (one deployment left)."""
    try:
        ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=[service], WaiterConfig={"Delay": waiting.delay, "MaxAttempts": waiting.max_attempts}
        )
    except WaiterError as exc:
        raise DeployError(
            f"Service {service} did not become stable: {exc}. Its tasks' logs are in CloudWatch; "
            "the deployment circuit breaker rolls a failing deployment back by itself."
        ) from exc


def deploy(
    session,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    image_tag: str,
    parameters: Mapping[str, str] | None = None,
    build_and_push: BuildAndPush = container_build_and_push,
    template_body: str | None = None,
    waiting: Waiting = Waiting(),
    out: Callable[[str], None] = print,
) -> str:
    """Run the whole deployment and return the site's public URL."""
    account = credentials_check(session)
    out(f"Deploying image tag {image_tag} to stack {stack_name} in account {account}, region {session.region_name}")
    cfn, ecr, ecs = session.client("cloudformation"), session.client("ecr"), session.client("ecs")
    template_body = template_body if template_body is not None else TEMPLATE_PATH.read_text()
    parameters = dict(parameters or {})

    stack = stack_describe(cfn, stack_name)
    if stack is not None:
        fixed_parameters_check(stack, parameters)
    # Before anything is created, pushed or updated; always against the real template's budget (a
    # stand-in template, as in the tests, has no mapping).
    real_template = template_parse(TEMPLATE_PATH.read_text())
    connection_budget_check(real_template, budget_parameters(real_template, stack, parameters))
    if stack is None or "RepositoryUri" not in stack_outputs(stack):
        # The first creation: everything, with the service at zero tasks until an image is pushed.
        stack_deploy(cfn, stack_name=stack_name, template_body=template_body, parameters=parameters, waiting=waiting, out=out)
    repository_uri = stack_outputs(stack_describe(cfn, stack_name))["RepositoryUri"]
    if "RepositoryEncryption" not in parameters:
        # ECR cannot change a repository's encryption, so the template must say what it already is;
        # a repository made before KMS was the template's default stays AES256 (not replaced, images kept).
        parameters["RepositoryEncryption"] = repository_encryption(ecr, repository_uri)
        if parameters["RepositoryEncryption"] != "KMS":
            out(f"The image repository is encrypted with {parameters['RepositoryEncryption']} (made so): keeping it")

    image_uri = f"{repository_uri}:{image_tag}"
    if image_exists(ecr, repository_uri, image_tag):
        out(f"{image_uri} is already in the registry: not building it again")
    else:
        out(f"Building and pushing {image_uri}")
        build_and_push(image_uri, registry_login(ecr))

    outputs = stack_deploy(
        cfn,
        stack_name=stack_name,
        template_body=template_body,
        parameters={**parameters, "ImageTag": image_tag},
        waiting=waiting,
        out=out,
    )
    out(f"Waiting for service {outputs['ServiceName']} to be stable...")
    service_wait_stable(ecs, cluster=outputs["ClusterName"], service=outputs["ServiceName"], waiting=waiting)
    return outputs["ServiceUrl"]
