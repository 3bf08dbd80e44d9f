"""deploy/template.yaml: what the deployment relies on, read from the real template (cfn-lint and checkov
check the rest, `make lint-deploy`)."""

import json
import re

import pytest

from deploy.__main__ import PARAMETER_OPTIONS
from deploy.aws import REQUIRED_ON_CREATE, DeployError, connection_budget_check
from tests.deploy.conftest import PROJECT_DIR

NO_VALUE = {"Ref": "AWS::NoValue"}


def resolved(node, true_conditions):
    """The template fragment as CloudFormation makes it when exactly `true_conditions` hold:
    each Fn::If replaced by its branch, AWS::NoValue dropped."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            return resolved(when_true if condition in true_conditions else when_false, true_conditions)
        items = {key: resolved(value, true_conditions) for key, value in node.items()}
        return {key: value for key, value in items.items() if value != NO_VALUE}
    if isinstance(node, list):
        return [item for item in (resolved(item, true_conditions) for item in node) if item != NO_VALUE]
    return node


def container_environment(template, true_conditions):
    container = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    return {item["Name"]: item["Value"] for item in resolved(container["Environment"], true_conditions)}


def allowed(template, parameter, value):
    """Whether CloudFormation takes `value` for the parameter (its AllowedPattern or AllowedValues)."""
    spec = template["Parameters"][parameter]
    if "AllowedValues" in spec:
        return value in spec["AllowedValues"]
    return re.fullmatch(spec["AllowedPattern"], value) is not None


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
    names = set(container_environment(template, set())) | {item["Name"] for item in container["Secrets"]}
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


def test_challenger_score_runs_daily_before_the_report_as_a_one_off_task_of_the_same_image(template):
    resources = template["Resources"]
    rule = resources["ChallengerScoreScheduleRule"]
    assert rule["Condition"] == "HasChallengerScoreSchedule"
    assert template["Parameters"]["ChallengerScoreSchedule"]["Default"] == "cron(30 5 * * ? *)"  # daily, 05:30 UTC
    assert template["Parameters"]["MonitorSchedule"]["Default"] == "cron(0 6 * * ? *)"  # the report half an hour later
    assert template["Conditions"]["HasChallengerScoreSchedule"] == {
        "Fn::And": [{"Condition": "HasImage"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "ChallengerScoreSchedule"}, ""]}]}]
    }
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "ChallengerScoreSchedule"}
    [target] = rule["Properties"]["Targets"]
    [report] = resources["MonitorScheduleRule"]["Properties"]["Targets"]
    assert target["Arn"] == report["Arn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}
    ecs = target["EcsParameters"]
    # The report's task, network and launch type; its own group (the report's email rule watches only its group)
    assert {key: value for key, value in ecs.items() if key != "Group"} == {
        key: value for key, value in report["EcsParameters"].items() if key != "Group"
    }
    assert ecs["Group"] == "challenger-score" != report["EcsParameters"]["Group"]
    assert resources["MonitorAlertRule"]["Properties"]["EventPattern"]["detail"]["group"] == ["monitor-report"]
    assert json.loads(target["Input"]) == {
        "containerOverrides": [{"name": "web", "command": ["python", "manage.py", "challenger_score", "--no-progress"]}]
    }
    assert target["RoleArn"] == {"Fn::GetAtt": ["ChallengerScoreScheduleRole", "Arn"]}
    role = resources["ChallengerScoreScheduleRole"]
    assert role["Condition"] == "HasChallengerScoreSchedule"
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    report_statements = resources["MonitorScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements == report_statements  # RunTask of this task definition on this cluster, and PassRole: no more
    assert template["Outputs"]["ChallengerScoreScheduleRuleName"]["Value"] == {"Ref": "ChallengerScoreScheduleRule"}


def test_the_scheduled_command_exists_with_the_options_the_schedule_gives(template):
    from django.core.management import load_command_class

    command = load_command_class("predictor", "challenger_score")
    options = vars(command.create_parser("manage.py", "challenger_score").parse_args(["--no-progress"]))
    assert options["no_progress"] is True


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


# --- The app's settings, as the tasks get them ----------------------------------------------------


def test_https_and_the_proxy_hop_reach_the_container(template):
    with_certificate = container_environment(template, {"HasCertificate"})
    without = container_environment(template, set())

    assert with_certificate["DJANGO_HTTPS"] == with_certificate["DJANGO_SECURE_COOKIES"] == "true"
    assert without["DJANGO_HTTPS"] == without["DJANGO_SECURE_COOKIES"] == "false"
    # One proxy of ours (the load balancer) appends the client's address to X-Forwarded-For.
    assert with_certificate["PREDICTOR_PROXY_HOPS"] == without["PREDICTOR_PROXY_HOPS"] == "1"
    attributes = {
        item["Key"]: item["Value"] for item in template["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    assert attributes["routing.http.xff_header_processing.mode"] == "append"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"


def test_the_limits_and_retention_settings_reach_the_container_only_when_set(template):
    parameters = template["Parameters"]
    everything = container_environment(template, {"HasRateLimitAnon", "HasRateLimitToken", "HasRetentionDays"})
    nothing_optional = container_environment(template, set())

    assert everything["PREDICTOR_RATE_LIMIT_ANON"] == {"Ref": "RateLimitAnon"}
    assert everything["PREDICTOR_RATE_LIMIT_TOKEN"] == {"Ref": "RateLimitToken"}
    assert everything["PREDICTOR_RETENTION_DAYS"] == {"Ref": "RetentionDays"}
    # An empty parameter sets no variable (an empty one would read as set), so the app's default holds.
    for name in ("PREDICTOR_RATE_LIMIT_ANON", "PREDICTOR_RATE_LIMIT_TOKEN", "PREDICTOR_RETENTION_DAYS"):
        assert name not in nothing_optional
    for condition, parameter in (
        ("HasRateLimitAnon", "RateLimitAnon"),
        ("HasRateLimitToken", "RateLimitToken"),
        ("HasRetentionDays", "RetentionDays"),
    ):
        assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}
    # Always set, never empty.
    for name, parameter in (
        ("PREDICTOR_API_ANON_MAX_RECORDS", "ApiAnonMaxRecords"),
        ("PREDICTOR_RETENTION_ACTION", "RetentionAction"),
        ("PREDICTOR_ACCESS_LOG_RETENTION_DAYS", "AccessLogRetentionDays"),
    ):
        assert everything[name] == nothing_optional[name] == {"Ref": parameter}
    assert parameters["RateLimitAnon"]["Default"] == "60/m"
    assert parameters["RateLimitToken"]["Default"] == "600/m"
    assert parameters["ApiAnonMaxRecords"]["Default"] == 100 and parameters["ApiAnonMaxRecords"]["MinValue"] == 1
    assert parameters["RetentionDays"]["Default"] == ""
    assert parameters["RetentionAction"]["Default"] == "anonymise"
    assert parameters["AccessLogRetentionDays"]["Default"] == 2190


@pytest.mark.parametrize(
    "parameter, value, ok",
    [
        ("RateLimitAnon", "60/m", True),
        ("RateLimitAnon", "5/10s", True),
        ("RateLimitAnon", "1000/day", True),
        ("RateLimitAnon", "", True),
        ("RateLimitAnon", "60 per minute", False),
        ("RateLimitAnon", "60/m; rm -rf", False),
        ("RateLimitToken", "600/h", True),
        ("RateLimitToken", "600/", False),
        ("RateLimitToken", "/m", False),
        ("RetentionDays", "365", True),
        ("RetentionDays", "", True),
        ("RetentionDays", "0", False),
        ("RetentionDays", "-5", False),
        ("RetentionDays", "30d", False),
        ("RetentionAction", "anonymise", True),
        ("RetentionAction", "delete", True),
        ("RetentionAction", "anonymize", False),
        ("KmsKeyArn", "", True),
        ("KmsKeyArn", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("KmsKeyArn", "alias/aws/ecr", False),
        ("EnableWaf", "true", True),
        ("EnableWaf", "yes", False),
    ],
)
def test_the_parameters_take_only_values_the_app_reads(template, parameter, value, ok):
    assert allowed(template, parameter, value) is ok


def test_the_retention_schedule_runs_both_purges_as_one_off_tasks(template):
    resources = template["Resources"]
    rule = resources["RetentionScheduleRule"]
    assert rule["Condition"] == resources["RetentionScheduleRole"]["Condition"] == "HasRetentionSchedule"
    assert template["Conditions"]["HasRetentionSchedule"] == {
        "Fn::And": [{"Condition": "HasImage"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "RetentionSchedule"}, ""]}]}]
    }
    assert template["Parameters"]["RetentionSchedule"]["Default"] == "cron(30 3 * * ? *)"  # daily, 03:30 UTC
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "RetentionSchedule"}

    def commands(true_conditions):
        targets = resolved(rule["Properties"]["Targets"], true_conditions)
        for target in targets:
            ecs = target["EcsParameters"]
            assert target["Arn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}
            assert ecs["TaskDefinitionArn"] == {"Ref": "TaskDefinition"} and ecs["LaunchType"] == "FARGATE"
            assert ecs["NetworkConfiguration"]["AwsVpcConfiguration"]["SecurityGroups"] == [{"Ref": "ServiceSecurityGroup"}]
        return [json.loads(target["Input"])["containerOverrides"][0]["command"] for target in targets]

    # The container's command after the image's entrypoint (which builds DATABASE_URL), as monitor_report's.
    assert commands({"HasRetentionDays"}) == [
        ["python", "manage.py", "purge_predictions"],
        ["python", "manage.py", "purge_access_log"],
    ]
    # Without RetentionDays predictions are kept: only the access audit is purged.
    assert commands(set()) == [["python", "manage.py", "purge_access_log"]]
    statements = resources["RetentionScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {statement["Action"] for statement in statements} == {"ecs:RunTask", "iam:PassRole"}


# --- Protection: WAF, logs, encryption ------------------------------------------------------------


def test_a_waf_web_acl_with_a_rate_limit_per_ip_guards_the_load_balancer_when_enabled(template):
    resources = template["Resources"]
    parameters = template["Parameters"]
    assert parameters["EnableWaf"]["Default"] == "true"
    assert template["Conditions"]["UseWaf"] == {"Fn::Equals": [{"Ref": "EnableWaf"}, "true"]}
    for name in ("WebAcl", "WebAclAssociation", "WafLogGroup", "WafLogging"):
        assert resources[name]["Condition"] == "UseWaf", name
    association = resources["WebAclAssociation"]["Properties"]
    assert association == {"ResourceArn": {"Ref": "LoadBalancer"}, "WebACLArn": {"Fn::GetAtt": ["WebAcl", "Arn"]}}
    acl = resources["WebAcl"]["Properties"]
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["rate-per-ip"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {"Limit": {"Ref": "WafRateLimit"}, "AggregateKeyType": "IP"}
    assert parameters["WafRateLimit"]["Default"] == 2000
    assert len({rule["Priority"] for rule in acl["Rules"]}) == len(acl["Rules"])


def test_the_managed_rules_let_the_api_batches_and_csv_uploads_through(template):
    rules = {rule["Name"]: rule for rule in template["Resources"]["WebAcl"]["Properties"]["Rules"]}
    common = rules["aws-common"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["Name"] == "AWSManagedRulesCommonRuleSet"
    # Its 8 KB body limit would block a 5 MiB API batch or a 4 MiB CSV upload: counted, not blocked.
    assert {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}} in common["RuleActionOverrides"]
    assert resolved(rules["aws-common"]["OverrideAction"], {"WafCommonRulesCount"}) == {"Count": {}}
    assert resolved(rules["aws-common"]["OverrideAction"], set()) == {"None": {}}
    assert template["Parameters"]["WafCommonRules"]["Default"] == "block"
    assert rules["aws-known-bad-inputs"]["OverrideAction"] == {"None": {}}


def test_waf_logs_what_it_blocks_without_tokens_or_cookies(template):
    resources = template["Resources"]
    logging = resources["WafLogging"]["Properties"]
    assert logging["ResourceArn"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
    assert logging["LogDestinationConfigs"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${WafLogGroup}"}
    ]
    # WAF writes only to log groups whose name starts with aws-waf-logs-.
    assert resources["WafLogGroup"]["Properties"]["LogGroupName"]["Fn::Sub"].startswith("aws-waf-logs-")
    redacted = {field["SingleHeader"]["Name"] for field in logging["RedactedFields"]}
    assert redacted == {"authorization", "cookie"}
    assert logging["LoggingFilter"]["DefaultBehavior"] == "DROP"
    kept = logging["LoggingFilter"]["Filters"][0]
    assert kept["Behavior"] == "KEEP"
    assert {condition["ActionCondition"]["Action"] for condition in kept["Conditions"]} == {"BLOCK", "COUNT"}


def test_every_log_group_has_a_retention_and_the_optional_key(template):
    log_groups = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}

    assert set(log_groups) == {"LogGroup", "WafLogGroup"}
    for name, resource in log_groups.items():
        assert resource["Properties"]["RetentionInDays"] > 0, name
        assert resource["Properties"]["KmsKeyId"] == {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, NO_VALUE]}, name


def test_the_load_balancer_writes_access_logs_to_a_private_tls_only_bucket_that_expires_them(template):
    resources = template["Resources"]
    attributes = {item["Key"]: item["Value"] for item in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "LoadBalancerLogBucket"}
    prefix = attributes["access_logs.s3.prefix"]
    assert resources["LoadBalancer"]["DependsOn"] == "LoadBalancerLogBucketPolicy"

    bucket = resources["LoadBalancerLogBucket"]["Properties"]
    # Load balancers deliver access logs only to buckets with S3-managed keys.
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [expiry] = bucket["LifecycleConfiguration"]["Rules"]
    assert expiry["Status"] == "Enabled" and expiry["ExpirationInDays"] == {"Ref": "LoadBalancerLogDays"}
    assert resources["LoadBalancerLogBucket"]["DeletionPolicy"] == "Retain"

    policy = resources["LoadBalancerLogBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "LoadBalancerLogBucket"}
    delivery, tls_only = policy["PolicyDocument"]["Statement"]
    assert delivery["Effect"] == "Allow" and delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == {"Fn::Sub": "${LoadBalancerLogBucket.Arn}/" + prefix + "/AWSLogs/${AWS::AccountId}/*"}
    assert tls_only["Effect"] == "Deny" and tls_only["Principal"] == "*" and tls_only["Action"] == "s3:*"
    assert tls_only["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def or_leaves(condition):
    """The regions a tree of Fn::Or over Fn::Equals [AWS::Region, region] names."""
    if "Fn::Or" in condition:
        return [region for branch in condition["Fn::Or"] for region in or_leaves(branch)]
    [reference, region] = condition["Fn::Equals"]
    assert reference == {"Ref": "AWS::Region"}
    return [region]


def test_access_logs_are_delivered_by_the_regions_elb_account_or_its_service_principal(template):
    mapping = template["Mappings"]["ElbLogDelivery"]
    regions = or_leaves(template["Conditions"]["ElbLogDeliveryByAccount"])
    # The condition names exactly the mapped regions: the lookup is never made for an unmapped one.
    assert sorted(regions) == sorted(mapping) and len(regions) == len(set(regions))
    # Two accounts from AWS's table, copied by hand.
    assert mapping["us-east-1"]["AccountId"] == "127311923021"
    assert mapping["eu-west-1"]["AccountId"] == "156460612806"
    statement = template["Resources"]["LoadBalancerLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    by_account = resolved(statement["Principal"], {"ElbLogDeliveryByAccount"})
    assert by_account["AWS"]["Fn::Sub"][1] == {
        "Account": {"Fn::FindInMap": ["ElbLogDelivery", {"Ref": "AWS::Region"}, "AccountId"]}
    }
    assert resolved(statement["Principal"], set()) == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def test_the_kms_key_parameter_encrypts_everything_that_takes_one(template):
    resources = template["Resources"]
    key = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, NO_VALUE]}
    assert template["Parameters"]["KmsKeyArn"]["Default"] == ""
    assert template["Conditions"]["HasKmsKey"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}
    database = resources["Database"]["Properties"]
    assert database["KmsKeyId"] == database["PerformanceInsightsKMSKeyId"] == key
    assert database["MasterUserSecret"] == {"Fn::If": ["HasKmsKey", {"KmsKeyId": {"Ref": "KmsKeyArn"}}, NO_VALUE]}
    assert resources["DjangoSecretKey"]["Properties"]["KmsKeyId"] == key
    assert resources["MonitorAlertTopic"]["Properties"]["KmsMasterKeyId"] == key
    encryption = resources["Repository"]["Properties"]["EncryptionConfiguration"]
    assert resolved(encryption, {"RepositoryKms", "HasKmsKey"}) == {"EncryptionType": "KMS", "KmsKey": {"Ref": "KmsKeyArn"}}
    assert resolved(encryption, {"RepositoryKms"}) == {"EncryptionType": "KMS"}  # the AWS-managed aws/ecr key
    # A repository made before has no EncryptionConfiguration: adding one would make CloudFormation replace it.
    assert resolved(encryption, {"HasKmsKey"}) == NO_VALUE
    assert template["Conditions"]["RepositoryKms"] == {"Fn::Equals": [{"Ref": "RepositoryEncryption"}, "KMS"]}
    assert template["Parameters"]["RepositoryEncryption"]["Default"] == "KMS"
    # The tasks read the two secrets at start: with a customer key they must be able to decrypt them.
    statements = resources["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert resolved(statements, set()) == [statements[0]]
    decrypt = resolved(statements, {"HasKmsKey"})[1]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == {"Ref": "KmsKeyArn"}


def test_the_cluster_and_the_database_are_monitored_and_the_database_protected(template):
    resources = template["Resources"]
    assert {"Name": "containerInsights", "Value": "enabled"} in resources["Cluster"]["Properties"]["ClusterSettings"]
    database = resources["Database"]["Properties"]
    assert database["EnablePerformanceInsights"] is True
    assert database["MonitoringInterval"] == 60
    assert database["MonitoringRoleArn"] == {"Fn::GetAtt": ["DatabaseMonitoringRole", "Arn"]}
    role = resources["DatabaseMonitoringRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert database["DeletionProtection"] == {"Fn::If": ["DBDeletionProtected", True, False]}
    assert template["Parameters"]["DBDeletionProtection"]["Default"] == "true"
    assert database["MultiAZ"] == {"Ref": "DBMultiAZ"} and template["Parameters"]["DBMultiAZ"]["Default"] == "true"
    assert database["ManageMasterUserPassword"] is True


# --- The checkov gate -------------------------------------------------------------------------------

# Each finding checkov may skip, and why; a new one must be added here on purpose.
CHECKOV_SKIPS = {
    ("Repository", "CKV_AWS_136"),  # ECR KMS: AES256 kept for a repository made before
    ("LoadBalancerSecurityGroup", "CKV_AWS_260"),  # port 80 open: it redirects to HTTPS
    ("Database", "CKV_AWS_161"),  # RDS IAM authentication: the app uses the managed password
    ("LoadBalancerLogBucket", "CKV_AWS_18"),  # access logging of the access-log bucket itself
    ("MonitorAlertTopic", "CKV_AWS_26"),  # SNS encryption: only with a customer key EventBridge may use
    ("DatabaseAlarmTopic", "CKV_AWS_26"),  # SNS encryption: only with a customer key CloudWatch may use
}


def test_every_checkov_skip_is_expected_and_gives_a_one_line_reason(template):
    skips = set()
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips.add((name, skip["id"]))
            assert len(skip["comment"]) > 20 and "\n" not in skip["comment"], (name, skip)

    assert skips == CHECKOV_SKIPS


def test_make_test_installs_checkov_apart_and_lint_deploy_runs_it():
    makefile = (PROJECT_DIR / "Makefile").read_text()
    requirements = (PROJECT_DIR / "requirements-checkov.txt").read_text().splitlines()

    test_prerequisites = re.search(r"^test: (.*)$", makefile, re.MULTILINE).group(1).split()
    assert "install-checkov" in test_prerequisites
    lint = re.search(r"^lint-deploy: .*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    assert "$(CHECKOV_VENV)/bin/checkov --file deploy/template.yaml" in lint
    assert "--soft-fail" not in lint
    assert re.search(r"^CHECKOV_VENV := \.venv-checkov$", makefile, re.MULTILINE)
    assert ".venv-checkov" in (PROJECT_DIR / ".gitignore").read_text().splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert any(line.startswith("checkov==") for line in pins)
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line) for line in pins), pins
    # Not in the app's virtualenv: its pins differ from the app's (boto3, for one).
    assert "checkov" not in (PROJECT_DIR / "requirements-test.txt").read_text()


# --- The connection budget in the template ----------------------------------------------------------

# max_connections = LEAST(DBInstanceClassMemory / 9531392, 5000), worked by hand for 1, 2, 4 and 8 GiB
# (1073741824 / 9531392 = 112.65...), and 80% of it rounded down.
MAX_CONNECTIONS = {"db.t4g.micro": 112, "db.t4g.small": 225, "db.t4g.medium": 450, "db.t4g.large": 901}
BUDGET = {"db.t4g.micro": 89, "db.t4g.small": 180, "db.t4g.medium": 360, "db.t4g.large": 720}


def rule_value(node, parameters, mappings):
    """A rule's condition or assertion as CloudFormation evaluates it for these parameter values."""
    if isinstance(node, list):
        return [rule_value(item, parameters, mappings) for item in node]
    if not isinstance(node, dict):
        return str(node)
    [(function, arguments)] = node.items()
    if function == "Ref":
        return parameters[arguments]
    values = rule_value(arguments, parameters, mappings) if isinstance(arguments, list) else None
    if function == "Fn::FindInMap":
        return rule_value(mappings[values[0]][values[1]][values[2]], parameters, mappings)
    if function == "Fn::Contains":
        return values[1] in values[0]
    if function == "Fn::Equals":
        return values[0] == values[1]
    if function == "Fn::Not":
        return not values[0]
    if function == "Fn::And":
        return all(values)
    if function == "Fn::Or":
        return any(values)
    raise AssertionError(f"no evaluator for {function}")


def rules_pass(template, parameters):
    for rule in template["Rules"].values():
        if "RuleCondition" in rule and not rule_value(rule["RuleCondition"], parameters, template["Mappings"]):
            continue
        if not all(rule_value(a["Assert"], parameters, template["Mappings"]) for a in rule["Assertions"]):
            return False
    return True


def parameter_range(template, name):
    spec = template["Parameters"][name]
    return range(int(spec["MinValue"]), int(spec["MaxValue"]) + 1)


def test_the_mapping_holds_each_allowed_classs_max_connections_and_80_percent(template):
    mapping = template["Mappings"]["DatabaseConnections"]

    assert set(template["Parameters"]["DBInstanceClass"]["AllowedValues"]) == set(MAX_CONNECTIONS) == set(mapping)
    for name, row in mapping.items():
        memory = {"micro": 1, "small": 2, "medium": 4, "large": 8}[name.rsplit(".", 1)[1]] * 1024**3
        assert int(row["MaxConnections"]) == min(memory // 9531392, 5000) == MAX_CONNECTIONS[name]
        assert int(row["Budget"]) == BUDGET[name]


def test_the_budget_rule_takes_exactly_the_combinations_within_80_percent_of_max_connections(template):
    assert parameter_range(template, "WebConcurrency") == range(1, 9)
    assert parameter_range(template, "MaxCount") == range(1, 41)
    refused = 0
    for db_class in template["Parameters"]["DBInstanceClass"]["AllowedValues"]:
        for workers in parameter_range(template, "WebConcurrency"):
            for tasks in parameter_range(template, "MaxCount"):
                # A rolling deployment runs up to twice MaxCount; 5 one-off tasks of one connection each
                # (monitor_report, challenger_score, purge_predictions, purge_access_log, migrate).
                within = 2 * tasks * workers + 5 <= BUDGET[db_class]
                values = {"DBInstanceClass": db_class, "WebConcurrency": str(workers), "MaxCount": str(tasks)}
                assert rules_pass(template, {**values, "UseRdsProxy": "false"}) is within, values
                assert rules_pass(template, {**values, "UseRdsProxy": "true"}) is True, values
                refused += not within
                try:
                    connection_budget_check(template, {**values, "UseRdsProxy": "false"})
                except DeployError:
                    assert not within, values
                else:
                    assert within, values
    assert refused > 100  # the rule does refuse something


@pytest.mark.parametrize(
    "db_class, workers, largest",
    # (89 - 5) // (2 x 2) = 21, (89 - 5) // (2 x 4) = 10, (180 - 5) // (2 x 4) = 21, (360 - 5) // (2 x 8) = 22
    [("db.t4g.micro", 2, 21), ("db.t4g.micro", 4, 10), ("db.t4g.small", 4, 21), ("db.t4g.medium", 8, 22)],
)
def test_the_largest_maxcount_is_the_readmes(template, db_class, workers, largest):
    def passes(tasks):
        values = {"DBInstanceClass": db_class, "WebConcurrency": str(workers), "UseRdsProxy": "false"}
        return rules_pass(template, {**values, "MaxCount": str(tasks)})

    assert passes(largest) and not passes(largest + 1)


def test_the_docs_budget_table_is_the_rules(template):
    docs = (PROJECT_DIR / "docs" / "deploy.md").read_text()

    for db_class in template["Parameters"]["DBInstanceClass"]["AllowedValues"]:
        cells = []
        for workers in (2, 4):
            values = {"DBInstanceClass": db_class, "WebConcurrency": str(workers), "UseRdsProxy": "false"}
            passing = [n for n in parameter_range(template, "MaxCount") if rules_pass(template, {**values, "MaxCount": str(n)})]
            largest = max(passing)
            uncapped = (BUDGET[db_class] - 5) // (2 * workers)
            cells.append(str(largest) if largest == uncapped else f"{largest} (budget: {uncapped})")
        row = f"| `{db_class}` | {MAX_CONNECTIONS[db_class]} | {BUDGET[db_class]} | {cells[0]} | {cells[1]} |"
        assert row in docs, row


def test_the_defaults_fit_the_budget(template):
    keys = ("DBInstanceClass", "WebConcurrency", "MaxCount", "UseRdsProxy")
    defaults = {key: str(template["Parameters"][key]["Default"]) for key in keys}

    assert rules_pass(template, defaults)


def test_with_rds_proxy_the_tasks_connect_through_it_with_the_managed_secret(template):
    resources = template["Resources"]
    proxy_resources = {
        "DatabaseProxy",
        "DatabaseProxyTargetGroup",
        "DatabaseProxyRole",
        "DatabaseProxySecurityGroup",
        "DatabaseIngressFromProxy",
    }
    assert {name for name, r in resources.items() if r.get("Condition") == "UseProxy"} == proxy_resources
    assert template["Conditions"]["UseProxy"] == {"Fn::Equals": [{"Ref": "UseRdsProxy"}, "true"]}
    assert template["Parameters"]["UseRdsProxy"]["Default"] == "false"
    assert container_environment(template, set())["DB_HOST"] == {"Fn::GetAtt": ["Database", "Endpoint.Address"]}
    assert container_environment(template, {"UseProxy"})["DB_HOST"] == {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}

    secret = {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]}
    proxy = resources["DatabaseProxy"]["Properties"]
    assert proxy["EngineFamily"] == "POSTGRESQL" and proxy["RequireTLS"] is True
    assert proxy["Auth"] == [{"AuthScheme": "SECRETS", "SecretArn": secret, "IAMAuth": "DISABLED"}]
    assert proxy["RoleArn"] == {"Fn::GetAtt": ["DatabaseProxyRole", "Arn"]}
    role = resources["DatabaseProxyRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "rds.amazonaws.com"}
    [read] = resolved(role["Policies"][0]["PolicyDocument"]["Statement"], set())
    assert read == {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret}
    targets = resources["DatabaseProxyTargetGroup"]["Properties"]
    assert targets["DBProxyName"] == {"Ref": "DatabaseProxy"} and targets["DBInstanceIdentifiers"] == [{"Ref": "Database"}]
    assert targets["ConnectionPoolConfigurationInfo"]["MaxConnectionsPercent"] < 80  # below the alarm

    # tasks -> proxy -> database, on 5432 only
    [from_tasks] = resources["DatabaseProxySecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert from_tasks["SourceSecurityGroupId"] == {"Ref": "ServiceSecurityGroup"} and from_tasks["FromPort"] == 5432
    ingress = resources["DatabaseIngressFromProxy"]["Properties"]
    assert ingress["GroupId"] == {"Ref": "DatabaseSecurityGroup"}
    assert ingress["SourceSecurityGroupId"] == {"Ref": "DatabaseProxySecurityGroup"}
    assert (ingress["FromPort"], ingress["ToPort"]) == (5432, 5432)


def test_an_alarm_at_80_percent_of_max_connections_is_always_there(template):
    alarm = template["Resources"]["DatabaseConnectionsAlarm"]
    assert "Condition" not in alarm  # with or without the monitor schedule
    properties = alarm["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/RDS", "DatabaseConnections")
    assert properties["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": {"Ref": "Database"}}]
    assert properties["Threshold"] == {"Fn::FindInMap": ["DatabaseConnections", {"Ref": "DBInstanceClass"}, "Budget"]}
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["Statistic"] == "Maximum"


@pytest.mark.parametrize(
    "true_conditions, topics",
    [
        (set(), []),
        ({"HasMonitorAlertEmail"}, ["MonitorAlertTopic"]),
        ({"HasAlarmEmail"}, ["DatabaseAlarmTopic"]),
        ({"HasMonitorAlertEmail", "HasAlarmEmail"}, ["MonitorAlertTopic", "DatabaseAlarmTopic"]),
    ],
)
def test_the_alarm_notifies_the_monitor_alert_topic_or_the_alarm_email(template, true_conditions, topics):
    properties = template["Resources"]["DatabaseConnectionsAlarm"]["Properties"]

    for actions in ("AlarmActions", "OKActions"):
        assert resolved(properties[actions], true_conditions) == [{"Ref": topic} for topic in topics]


def test_the_alarm_may_publish_to_the_topics(template):
    resources = template["Resources"]
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    subscription = resources["DatabaseAlarmTopic"]["Properties"]["Subscription"]
    assert subscription == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]
    statements = resources["MonitorAlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {"Service": "cloudwatch.amazonaws.com"} in [s["Principal"] for s in statements if s["Action"] == "sns:Publish"]


def test_the_graceful_timeout_is_the_deregistration_delay_and_the_stop_timeout_comes_after_it(template):
    resources = template["Resources"]
    attributes = {a["Key"]: a["Value"] for a in resources["TargetGroup"]["Properties"]["TargetGroupAttributes"]}
    container = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    graceful = {"Ref": "GracefulTimeoutSeconds"}

    assert attributes["deregistration_delay.timeout_seconds"] == graceful
    assert container_environment(template, set())["GUNICORN_GRACEFUL_TIMEOUT"] == graceful
    assert container["StopTimeout"] == {"Fn::FindInMap": ["GracefulShutdown", graceful, "StopTimeout"]}
    parameter = template["Parameters"]["GracefulTimeoutSeconds"]
    assert str(parameter["Default"]) == "30"  # gunicorn's own default, and the delay before this parameter
    stop_timeouts = template["Mappings"]["GracefulShutdown"]
    assert {str(value) for value in parameter["AllowedValues"]} == set(stop_timeouts)
    for seconds in parameter["AllowedValues"]:
        stop = int(stop_timeouts[str(seconds)]["StopTimeout"])
        assert int(seconds) + 10 <= stop <= 120, (seconds, stop)  # a margin, within Fargate's maximum


def test_gunicorn_reads_the_graceful_timeout_the_stack_passes_with_the_same_default(template, monkeypatch):
    import importlib

    import insurance_site.gunicorn as gunicorn_settings

    monkeypatch.delenv("GUNICORN_GRACEFUL_TIMEOUT", raising=False)
    assert importlib.reload(gunicorn_settings).graceful_timeout == int(template["Parameters"]["GracefulTimeoutSeconds"]["Default"])
    monkeypatch.setenv("GUNICORN_GRACEFUL_TIMEOUT", "90")
    assert importlib.reload(gunicorn_settings).graceful_timeout == 90
    monkeypatch.delenv("GUNICORN_GRACEFUL_TIMEOUT")
    importlib.reload(gunicorn_settings)
