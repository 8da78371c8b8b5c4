# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's CloudFormation template for a self-managed Windows node group.

Modules ship only Python to the host that runs them, so the template lives here as a string: this
constant is the one source of truth (the unit tests write it out and run cfn-lint on it).

It takes the parameters of the AWS template ``amazon-eks-windows-nodegroup.yaml`` under the same
names, and adds its own (hop limit, CNI policy, bootstrap facts, permissions boundary).
Differences from the AWS template, on purpose:

- ``KeyName`` is optional: no key pair unless asked; AWS Systems Manager Session Manager instead.
- IMDSv2 is required by default (``DisableIMDSv1=true``); ``HttpPutResponseHopLimit`` defaults to 2
  so that pods, one network hop behind the node, can still reach the instance metadata service.
- The root volume is an encrypted gp3 volume on ``/dev/sda1`` (the Windows AMI's root device) of at
  least 50 GiB (the AMI's snapshot size).
- The node role gets AmazonSSMManagedInstanceCore, and AmazonEKS_CNI_Policy only with
  ``AttachCNIPolicy=true`` (it belongs on an IAM role for the aws-node service account).
- The bootstrap passes the API server endpoint, CA and service CIDR when given, so the node needs
  no DescribeCluster call; no cfn-signal and no CreationPolicy: stack completion does not mean the
  nodes joined, the Kubernetes API says that.
- The node security group gets the control plane rules of the AWS Linux template; the security
  groups in ``NodeSecurityGroups`` (the cluster security group, the Linux nodes' groups) are attached as well.
  It does not carry the tag ``kubernetes.io/cluster/<cluster>``: exactly one security group of a node may, or the
  Kubernetes service controller and the AWS Load Balancer Controller refuse the node, and EKS already puts it on the
  cluster security group (AWS's node templates tagged their own group before EKS had one; eksctl stopped, eksctl
  issues 1581 and 4054).
- No SSM-typed parameter: CloudFormation resolves those on every create and update, with the caller's
  credentials, even when unused, so a default naming a Kubernetes version breaks every update once AWS retires
  it. ``NodeImageId`` is required (the module resolves the AMI); ``NodeImageIdSSMParam`` only records the SSM
  parameter it came from.

Version 2 changes no resource of version 1 but the node security group's tags, an in-place update: a stack of
version 1 keeps its launch template version and its instances (see the comment on ``NodeLaunchTemplate``).
"""

TEMPLATE_VERSION = "2"
# How the Description of a stack of this template begins (CloudFormation returns it with the stack). A version names
# one body: test_nodegroup_template.py pins the body's digest per version, so an edit of TEMPLATE needs a new
# version. A stack so described is taken to run TEMPLATE, and a rerun does not read its template (GetTemplate).
TEMPLATE_MARK = f"eksnodes.windows self-managed Windows node group for Amazon EKS (template version {TEMPLATE_VERSION})"


def names_this_template(description: object) -> bool:
    """Whether a stack's or a template's Description claims TEMPLATE (see TEMPLATE_MARK)."""
    return str(description or "").startswith(TEMPLATE_MARK)


# Parameters that take a list; CloudFormation stores their value comma-joined.
LIST_PARAMETERS = ("NodeSecurityGroups", "Subnets")

TEMPLATE = r"""AWSTemplateFormatVersion: "2010-09-09"
Description: >-
  eksnodes.windows self-managed Windows node group for Amazon EKS (template version 2):
  IAM role and instance profile, node security group, launch template and Auto Scaling group.

Metadata:
  AWS::CloudFormation::Interface:
    ParameterGroups:
      - Label:
          default: EKS cluster
        Parameters:
          - ClusterName
          - ClusterControlPlaneSecurityGroup
          - ApiServerEndpoint
          - CertificateAuthorityData
          - ServiceCidr
          - DnsClusterIp
      - Label:
          default: Worker node configuration
        Parameters:
          - NodeGroupName
          - NodeAutoScalingGroupMinSize
          - NodeAutoScalingGroupDesiredCapacity
          - NodeAutoScalingGroupMaxSize
          - NodeInstanceType
          - NodeImageIdSSMParam
          - NodeImageId
          - NodeVolumeSize
          - KeyName
          - BootstrapArguments
          - DisableIMDSv1
          - HttpPutResponseHopLimit
          - AttachCNIPolicy
          - NodeInstanceRolePermissionsBoundary
      - Label:
          default: Worker network configuration
        Parameters:
          - VpcId
          - NodeSecurityGroups
          - Subnets

Parameters:
  ClusterName:
    Type: String
    Description: The EKS cluster name, exactly as it is; nodes with a different name cannot join.
    AllowedPattern: "^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$"
    ConstraintDescription: 1 to 100 characters, letters, digits, hyphens and underscores, starting with a letter or digit.

  ClusterControlPlaneSecurityGroup:
    Type: AWS::EC2::SecurityGroup::Id
    Description: The security group of the cluster control plane (the cluster's additional security group).

  NodeGroupName:
    Type: String
    Description: Unique name of the node group; it names the nodes' Auto Scaling group.
    AllowedPattern: "^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$"
    ConstraintDescription: 1 to 63 characters, letters, digits, hyphens and underscores, starting with a letter or digit.

  NodeAutoScalingGroupMinSize:
    Type: Number
    Description: Minimum size of the node group's Auto Scaling group.
    Default: 1
    MinValue: 0

  NodeAutoScalingGroupDesiredCapacity:
    Type: Number
    Description: Desired capacity of the node group's Auto Scaling group.
    Default: 2
    MinValue: 0

  NodeAutoScalingGroupMaxSize:
    Type: Number
    Description: >-
      Maximum size of the node group's Auto Scaling group. Keep it at least one above the desired
      capacity so that a rolling update adds a node before it removes one.
    Default: 3
    MinValue: 1

  NodeInstanceType:
    Type: String
    Description: EC2 instance type of the nodes.
    Default: m5.large
    AllowedPattern: "^[a-z][a-z0-9-]*\\.[a-z0-9-]+$"
    ConstraintDescription: An EC2 instance type such as m5.large.

  # A plain string, not an AWS::SSM::Parameter::Value type: CloudFormation would read it on every create and
  # update with the caller's credentials, and fail once AWS retires the parameter. No Default: NodeLaunchTemplate
  # still names it (see there), and a default would be linted as an AMI ID; the module always passes it.
  NodeImageIdSSMParam:
    Type: String
    Description: >-
      The SSM parameter NodeImageId was read from, recorded for reference (may be empty); CloudFormation does not
      read it.
    AllowedPattern: "^[A-Za-z0-9_./-]*$"
    ConstraintDescription: Empty, or an SSM parameter name such as /aws/service/ami-windows-latest/.../image_id.

  NodeImageId:
    Type: String
    Description: The AMI ID of the nodes, an EKS optimized Windows AMI.
    AllowedPattern: "^ami-[0-9a-f]{8,17}$"
    ConstraintDescription: An AMI ID such as ami-0123456789abcdef0.

  NodeVolumeSize:
    Type: Number
    Description: Size in GiB of the nodes' encrypted gp3 root volume; the Windows AMI's snapshot takes 50.
    Default: 50
    MinValue: 50
    MaxValue: 16384

  KeyName:
    Type: String
    Description: >-
      Name of an EC2 key pair to decrypt the Administrator password for RDP. Empty (the default)
      launches the nodes without a key pair; use AWS Systems Manager Session Manager instead.
    Default: ""

  BootstrapArguments:
    Type: String
    Description: Extra arguments for Start-EKSBootstrap.ps1, for example -KubeletExtraArgs '--node-labels=a=b'.
    Default: ""

  DisableIMDSv1:
    Type: String
    Description: Require IMDSv2 session tokens on the nodes (true) or also allow IMDSv1 (false).
    Default: "true"
    AllowedValues:
      - "true"
      - "false"

  HttpPutResponseHopLimit:
    Type: Number
    Description: >-
      Hop limit of IMDSv2 token responses. 2 lets pods reach the instance metadata service through
      the node; 1 keeps IMDSv2 tokens on the node itself.
    Default: 2
    MinValue: 1
    MaxValue: 64

  AttachCNIPolicy:
    Type: String
    Description: >-
      Attach AmazonEKS_CNI_Policy to the node role. Leave false when the VPC CNI uses an IAM role for
      its service account (IRSA or EKS Pod Identity).
    Default: "false"
    AllowedValues:
      - "true"
      - "false"

  NodeInstanceRolePermissionsBoundary:
    Type: String
    Description: ARN of a managed policy to use as the node role's permissions boundary; empty for none.
    Default: ""

  ApiServerEndpoint:
    Type: String
    Description: The cluster's API server endpoint; with CertificateAuthorityData the node needs no DescribeCluster call.
    Default: ""

  CertificateAuthorityData:
    Type: String
    Description: The cluster's certificate authority data, base64 encoded, as DescribeCluster returns it.
    Default: ""

  ServiceCidr:
    Type: String
    Description: The cluster's Kubernetes service IPv4 CIDR; needed for pod DNS when it is not the default.
    Default: ""

  DnsClusterIp:
    Type: String
    Description: The cluster DNS service IP (the tenth address of the service CIDR on EKS).
    Default: ""

  VpcId:
    Type: AWS::EC2::VPC::Id
    Description: The VPC of the cluster.

  NodeSecurityGroups:
    Type: List<AWS::EC2::SecurityGroup::Id>
    Description: >-
      Security groups attached to the nodes as well as the node group's own, usually the Linux nodes'
      security groups so that Windows pods reach CoreDNS.

  Subnets:
    Type: List<AWS::EC2::Subnet::Id>
    Description: Subnets for the nodes; private subnets with a NAT gateway are recommended.

Mappings:
  PartitionMap:
    aws:
      EC2ServicePrincipal: ec2.amazonaws.com
    aws-us-gov:
      EC2ServicePrincipal: ec2.amazonaws.com
    aws-cn:
      EC2ServicePrincipal: ec2.amazonaws.com.cn
    aws-iso:
      EC2ServicePrincipal: ec2.c2s.ic.gov
    aws-iso-b:
      EC2ServicePrincipal: ec2.sc2s.sgov.gov

Conditions:
  HasNodeImageId: !Not [!Equals [!Ref NodeImageId, ""]]
  HasKeyName: !Not [!Equals [!Ref KeyName, ""]]
  HasBootstrapArguments: !Not [!Equals [!Ref BootstrapArguments, ""]]
  IMDSv1Disabled: !Equals [!Ref DisableIMDSv1, "true"]
  AttachCNI: !Equals [!Ref AttachCNIPolicy, "true"]
  HasPermissionsBoundary: !Not [!Equals [!Ref NodeInstanceRolePermissionsBoundary, ""]]
  HasClusterAccessData: !And
    - !Not [!Equals [!Ref ApiServerEndpoint, ""]]
    - !Not [!Equals [!Ref CertificateAuthorityData, ""]]
  HasServiceCidr: !Not [!Equals [!Ref ServiceCidr, ""]]
  HasDnsClusterIp: !Not [!Equals [!Ref DnsClusterIp, ""]]

Resources:
  NodeInstanceRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service:
                - !FindInMap [PartitionMap, !Ref "AWS::Partition", EC2ServicePrincipal]
            Action:
              - sts:AssumeRole
      ManagedPolicyArns: !If
        - AttachCNI
        - - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonEKSWorkerNodePolicy
          - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly
          - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore
          - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonEKS_CNI_Policy
        - - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonEKSWorkerNodePolicy
          - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly
          - !Sub arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore
      Path: /
      PermissionsBoundary: !If [HasPermissionsBoundary, !Ref NodeInstanceRolePermissionsBoundary, !Ref "AWS::NoValue"]

  NodeInstanceProfile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Path: /
      Roles:
        - !Ref NodeInstanceRole

  NodeSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: !Sub Windows nodes of node group ${NodeGroupName} in EKS cluster ${ClusterName}
      VpcId: !Ref VpcId
      Tags:
        - Key: Name
          Value: !Sub ${ClusterName}-${NodeGroupName}-node-sg

  NodeSecurityGroupIngress:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      Description: Allow the nodes to communicate with each other
      GroupId: !Ref NodeSecurityGroup
      SourceSecurityGroupId: !Ref NodeSecurityGroup
      IpProtocol: "-1"

  NodeSecurityGroupFromControlPlaneIngress:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      Description: Allow the kubelets and pods to receive communication from the cluster control plane
      GroupId: !Ref NodeSecurityGroup
      SourceSecurityGroupId: !Ref ClusterControlPlaneSecurityGroup
      IpProtocol: tcp
      FromPort: 1025
      ToPort: 65535

  NodeSecurityGroupFromControlPlaneOn443Ingress:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      Description: Allow pods running extension API servers on port 443 to receive communication from the cluster control plane
      GroupId: !Ref NodeSecurityGroup
      SourceSecurityGroupId: !Ref ClusterControlPlaneSecurityGroup
      IpProtocol: tcp
      FromPort: 443
      ToPort: 443

  ClusterControlPlaneSecurityGroupIngress:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      Description: Allow the Windows nodes to communicate with the cluster API server
      GroupId: !Ref ClusterControlPlaneSecurityGroup
      SourceSecurityGroupId: !Ref NodeSecurityGroup
      IpProtocol: tcp
      FromPort: 443
      ToPort: 443

  ControlPlaneEgressToNodeSecurityGroup:
    Type: AWS::EC2::SecurityGroupEgress
    Properties:
      Description: Allow the cluster control plane to communicate with the Windows kubelets and pods
      GroupId: !Ref ClusterControlPlaneSecurityGroup
      DestinationSecurityGroupId: !Ref NodeSecurityGroup
      IpProtocol: tcp
      FromPort: 1025
      ToPort: 65535

  ControlPlaneEgressToNodeSecurityGroupOn443:
    Type: AWS::EC2::SecurityGroupEgress
    Properties:
      Description: Allow the cluster control plane to communicate with Windows pods running extension API servers on port 443
      GroupId: !Ref ClusterControlPlaneSecurityGroup
      DestinationSecurityGroupId: !Ref NodeSecurityGroup
      IpProtocol: tcp
      FromPort: 443
      ToPort: 443

  # Word for word as in template version 1, NodeImageIdSSMParam included: a changed expression is a direct
  # modification, which makes a new launch template version, and eksnodes.windows.nodes_replace replaces every
  # instance launched from an older version. NodeImageId is required now, so ImageId is always NodeImageId.
  NodeLaunchTemplate:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        BlockDeviceMappings:
          - DeviceName: /dev/sda1
            Ebs:
              DeleteOnTermination: true
              Encrypted: true
              VolumeSize: !Ref NodeVolumeSize
              VolumeType: gp3
        IamInstanceProfile:
          Arn: !GetAtt NodeInstanceProfile.Arn
        ImageId: !If [HasNodeImageId, !Ref NodeImageId, !Ref NodeImageIdSSMParam]
        InstanceType: !Ref NodeInstanceType
        KeyName: !If [HasKeyName, !Ref KeyName, !Ref "AWS::NoValue"]
        MetadataOptions:
          HttpEndpoint: enabled
          HttpPutResponseHopLimit: !Ref HttpPutResponseHopLimit
          HttpTokens: !If [IMDSv1Disabled, required, optional]
        SecurityGroupIds: !Split
          - ","
          - !Join
            - ","
            - - !Ref NodeSecurityGroup
              - !Join [",", !Ref NodeSecurityGroups]
        UserData:
          Fn::Base64: !Join
            - ""
            - - "<powershell>\n"
              - "[string]$EKSBootstrapScriptFile = \"$env:ProgramFiles\\Amazon\\EKS\\Start-EKSBootstrap.ps1\"\n"
              - !Sub "& $EKSBootstrapScriptFile -EKSClusterName \"${ClusterName}\""
              - !If
                - HasClusterAccessData
                - !Sub " -APIServerEndpoint \"${ApiServerEndpoint}\" -Base64ClusterCA \"${CertificateAuthorityData}\""
                - ""
              - !If [HasServiceCidr, !Sub " -ServiceCIDR \"${ServiceCidr}\"", ""]
              - !If [HasDnsClusterIp, !Sub " -DNSClusterIP \"${DnsClusterIp}\"", ""]
              - !If [HasBootstrapArguments, !Sub " ${BootstrapArguments}", ""]
              - " 3>&1 4>&1 5>&1 6>&1\n"
              - "</powershell>\n"

  NodeGroup:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: !Ref NodeAutoScalingGroupMinSize
      DesiredCapacity: !Ref NodeAutoScalingGroupDesiredCapacity
      MaxSize: !Ref NodeAutoScalingGroupMaxSize
      LaunchTemplate:
        LaunchTemplateId: !Ref NodeLaunchTemplate
        Version: !GetAtt NodeLaunchTemplate.LatestVersionNumber
      VPCZoneIdentifier: !Ref Subnets
      Tags:
        - Key: Name
          Value: !Sub ${ClusterName}-${NodeGroupName}-Node
          PropagateAtLaunch: true
        - Key: !Sub kubernetes.io/cluster/${ClusterName}
          Value: owned
          PropagateAtLaunch: true
    # No AutoScalingRollingUpdate: a launch template change must not replace instances with their pods on them;
    # eksnodes.windows.nodes_replace replaces them, draining each node first.
    UpdatePolicy:
      AutoScalingScheduledAction:
        IgnoreUnmodifiedGroupSizeProperties: true

Outputs:
  NodeInstanceRole:
    Description: ARN of the node IAM role; map it in aws-auth or give it an EC2_WINDOWS access entry.
    Value: !GetAtt NodeInstanceRole.Arn
  NodeInstanceRoleName:
    Description: Name of the node IAM role.
    Value: !Ref NodeInstanceRole
  NodeInstanceProfile:
    Description: ARN of the node instance profile.
    Value: !GetAtt NodeInstanceProfile.Arn
  NodeSecurityGroup:
    Description: The node group's own security group.
    Value: !Ref NodeSecurityGroup
  NodeSecurityGroups:
    Description: Every security group attached to the nodes, comma-separated.
    Value: !Join
      - ","
      - - !Ref NodeSecurityGroup
        - !Join [",", !Ref NodeSecurityGroups]
  NodeAutoScalingGroup:
    Description: Name of the nodes' Auto Scaling group.
    Value: !Ref NodeGroup
  NodeLaunchTemplate:
    Description: ID of the nodes' launch template.
    Value: !Ref NodeLaunchTemplate
  NodeLaunchTemplateVersion:
    Description: The launch template version the Auto Scaling group uses.
    Value: !GetAtt NodeLaunchTemplate.LatestVersionNumber
  NodeImageId:
    Description: The AMI the nodes launch from.
    Value: !Ref NodeImageId
"""
