"""Where the workgroup lives: a new isolated VPC, or three subnets of an existing one."""

from __future__ import annotations

from aws_cdk import Annotations, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from redshift_idc.cdk.components.nag import acknowledge, acknowledge_nist_role
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.warehouse import CreatedVpc


class WarehouseNetwork(Construct):
    """Subnets and security groups for the workgroup, with no path from or to the internet.

    A created VPC has isolated subnets only (no internet gateway, no NAT): clients reach the warehouse
    through the Redshift Data API, which needs no network path into the VPC. Its flow logs go to a log
    group encrypted with the project key. The security group we create admits nothing; open it to your
    clients' CIDRs or security groups deliberately, outside this tool, if they connect over JDBC/ODBC.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig,
                 key: kms.IKey, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        network = config.network
        if isinstance(network, CreatedVpc):
            vpc = ec2.Vpc(
                self,
                "Vpc",
                ip_addresses=ec2.IpAddresses.cidr(network.cidr),
                max_azs=3,
                nat_gateways=0,
                restrict_default_security_group=True,
                subnet_configuration=[
                    ec2.SubnetConfiguration(name="warehouse", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                                            cidr_mask=24),
                ],
            )
            flow_log_group = logs.LogGroup(self, "FlowLogs", encryption_key=key, retention=log_retention,
                                           removal_policy=RemovalPolicy.RETAIN)
            flow_log = vpc.add_flow_log("FlowLog", traffic_type=ec2.FlowLogTrafficType.ALL,
                                        destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group))
            acknowledge_nist_role(flow_log.node.find_child("IAMRole"))
            for subnet in vpc.isolated_subnets:
                acknowledge(subnet, "CloudFormation-Validate-W3010",
                            "Zones come from the environment config so synth needs no AWS credentials "
                            "(no availability-zone lookup); the config validates them against the region.")
            self.vpc: ec2.IVpc = vpc
            self.subnet_ids = [s.subnet_id for s in vpc.isolated_subnets]
            existing_groups: tuple[str, ...] = ()
        else:
            self.vpc = ec2.Vpc.from_vpc_attributes(
                self, "Vpc", vpc_id=network.vpc_id, availability_zones=list(config.availability_zones),
                isolated_subnet_ids=list(network.subnet_ids),
            )
            for subnet in self.vpc.isolated_subnets:
                Annotations.of(subnet).acknowledge_warning(
                    "@aws-cdk/aws-ec2:noSubnetRouteTableId",
                    "The workgroup only takes the subnet ids; nothing here reads the subnets' route tables (no "
                    "gateway endpoints or routes are added to an existing VPC).")
            self.subnet_ids = list(network.subnet_ids)
            existing_groups = network.security_group_ids
        if existing_groups:
            self.security_group_ids = list(existing_groups)
        else:
            group = ec2.SecurityGroup(
                self,
                "WorkgroupSecurityGroup",
                vpc=self.vpc,
                description=f"Redshift Serverless workgroup {config.warehouse.workgroup_name}: no ingress",
                allow_all_outbound=False,
            )
            self.security_group_ids = [group.security_group_id]
