"""`python -m deploy`: build, push and run the predictor on AWS Fargate, then print its URL.

First time:  python -m deploy --region eu-west-1 --vpc-id vpc-... --public-subnets subnet-a,subnet-b \\
                 --private-subnets subnet-c,subnet-d
Afterwards:  python -m deploy --region eu-west-1              (the stack keeps its other parameters)
Roll back:   python -m deploy --region eu-west-1 --image-tag PREVIOUS_TAG
"""

from __future__ import annotations

import argparse
import os
import sys

import boto3
from botocore.exceptions import ProfileNotFound

from .aws import DEFAULT_STACK_NAME, DeployError, deploy, image_tag_default

# Command-line options that set a template parameter of the same meaning.
PARAMETER_OPTIONS = {
    "vpc_id": "VpcId",
    "public_subnets": "PublicSubnetIds",
    "private_subnets": "PrivateSubnetIds",
    "desired_count": "DesiredCount",
    "max_count": "MaxCount",
    "task_cpu": "TaskCpu",
    "task_memory": "TaskMemory",
    "web_concurrency": "WebConcurrency",
    "db_instance_class": "DBInstanceClass",
    "certificate_arn": "CertificateArn",
    "domain_name": "DomainName",
}


def parser_build() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="CloudFormation stack (default: %(default)s)")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or your AWS config)")
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    parser.add_argument("--image-tag", help="Tag to deploy (default: the git commit); an existing tag is not rebuilt")
    parser.add_argument("--vpc-id", help="VPC (needed when creating the stack)")
    parser.add_argument("--public-subnets", help="Comma-separated public subnets for the load balancer (creating)")
    parser.add_argument("--private-subnets", help="Comma-separated private subnets for tasks and database (creating)")
    parser.add_argument("--desired-count", help="Tasks to run normally")
    parser.add_argument("--max-count", help="Most tasks CPU autoscaling may run")
    parser.add_argument("--task-cpu", help="Fargate CPU units per task (1024 = 1 vCPU)")
    parser.add_argument("--task-memory", help="Fargate memory per task, MiB")
    parser.add_argument("--web-concurrency", help="gunicorn workers per task (each holds one database connection)")
    parser.add_argument("--db-instance-class", help="RDS instance class: db.t4g.micro, small, medium or large")
    parser.add_argument("--certificate-arn", help="ACM certificate for an HTTPS listener ('' to remove it)")
    parser.add_argument("--domain-name", help="Host name users reach the site at")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="Any other template parameter (repeatable)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser_build().parse_args(argv)
    parameters = {name: getattr(args, option) for option, name in PARAMETER_OPTIONS.items() if getattr(args, option) is not None}
    for item in args.parameter:
        key, separator, value = item.partition("=")
        if not separator:
            print(f"deploy: --parameter needs KEY=VALUE, not {item!r}", file=sys.stderr)
            return 2
        parameters[key] = value
    try:
        # botocore reads AWS_DEFAULT_REGION; AWS_REGION is what most tools and CI set.
        session = boto3.Session(profile_name=args.profile, region_name=args.region or os.environ.get("AWS_REGION"))
        url = deploy(
            session,
            stack_name=args.stack_name,
            image_tag=args.image_tag or image_tag_default(),
            parameters=parameters,
        )
    except (DeployError, ProfileNotFound) as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    print(f"The site is up at {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
