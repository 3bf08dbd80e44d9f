"""Deploying the predictor to AWS Fargate (README, "Deploy to AWS Fargate").

- `aws.py`: the deploy logic (credentials, the CloudFormation stack, the image build and push, waiting);
- `__main__.py`: the command line, `python -m deploy` (`make deploy`);
- `template.yaml`: the stack.
"""
