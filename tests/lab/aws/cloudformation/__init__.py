"""The lab's CloudFormation: moto's templates and resource models with AWS's stack lifecycle."""
