"""`python -m redshift_idc verify`: what CloudFormation cannot see, checked read-only with your credentials.

A deploy can succeed and still leave a warehouse IdC users cannot use: the IdC instance in another region, a
namespace without its identity provider, a group never assigned, a token issuer with another claim mapping,
an OAuth application whose grant or scope was changed by hand, a reconciler that cannot see RLS. None of
those is a CloudFormation resource property, so drift detection never reports them. Each check reads the live
configuration (IAM Identity Center, Redshift, the catalog through the Data API) and compares it with
`config/<env>.yaml` and the deploy's outputs; nothing is created, changed or granted.

One module per check (the two SQL checks, which share one read of the warehouse, in one): `instance_region`,
`warehouse` (identity provider, sys:secadmin), `assignments`, `token_issuers`, `oauth_application`, `scaling`
(the workgroup's base capacity or price-performance target). They
share `results` (what a check returns), `aws_calls` (one AWS call, its error worded as a failed check) and
`deployment` (the environment and its deploy's outputs); `runner` runs them in order and is the CLI command.
"""
