"""Redshift Serverless with IAM Identity Center, deployed and governed from reviewed configuration.

This package must stay importable without third-party dependencies at import time: the Lambda
assets bundle `redshift_idc.runtime`, and the Lambda runtime only offers boto3.
"""
