"""The trusted-identity-propagation client for applications: boto3 and PyJWT only."""
