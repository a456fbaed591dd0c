"""Code that runs inside Lambda custom resources.

Only the standard library and boto3 may be imported here: this subpackage is copied into the Lambda
assets as it is (see `redshift_idc/cdk/components/lambda_asset.py`), and the Lambda runtime offers nothing else.
"""
