#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: nodegroup_stack
short_description: Create, update or delete the CloudFormation stack of a self-managed Windows node group on Amazon EKS
version_added: 0.1.0
description:
  - Manages the CloudFormation stack that runs a self-managed Windows node group of an EKS cluster.
    The stack holds the node IAM role and instance profile, a node security group, a launch template
    and the Auto Scaling group of the nodes.
  - Uses the collection's own template by default; its parameters have the names of the AWS template
    C(amazon-eks-windows-nodegroup.yaml), and each has an option here. O(template) or O(template_url)
    uses another template, for example the AWS one.
  - Knows when there is nothing to do without asking CloudFormation to try, from a describe of the
    stack and of its template. Otherwise it creates a change set with an explicit C(ChangeSetType)
    (C(CREATE) or C(UPDATE)), reports its changes, and executes it; a change set that turns out empty
    reports C(changed=false).
  - In check mode the change set is created, described and deleted (with the empty stack a
    C(CREATE) change set leaves in C(REVIEW_IN_PROGRESS)).
  - Waits for the stack with a bound (O(wait_timeout)), collecting the events of the operation. On
    failure, returns the failed resources' events as structured data, and the message names the first
    root cause.
  - While it waits, the action plugin of the same name prints each new stack event as it happens (see
    the notes).
  - A stack left in C(ROLLBACK_COMPLETE) (or another state that only allows deletion) by an earlier
    failed create is deleted and created again only with O(recover_failed=true).
  - Stack creation does not mean the nodes joined the cluster; they also need their role mapped in
    C(aws-auth) or an C(EC2_WINDOWS) access entry.
  - Never changes or deletes a stack that is not this node group's. Every create and update tags the stack
    with C(eksnodes.windows/cluster-name) and C(eksnodes.windows/nodegroup-name). A stack of the name that
    carries these tags for another cluster or node group, or that has no such tags and is not a node group
    stack of O(cluster_name) and O(nodegroup_name) (its C(ClusterName) and C(NodeGroupName) parameters and
    its C(NodeInstanceRole) and C(NodeAutoScalingGroup) outputs), is refused before any change, with what
    was found. A node group stack created before the tags existed is recognised and gets them at its next update.
  - When another run changes the stack between two of its calls (its change set vanishes or can no longer
    run, or the stack was created meanwhile), the task fails with RV(concurrent_run=true) and says to wait
    for the other run and run again.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  stack_name:
    description:
      - The name of the CloudFormation stack.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the stack; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  cluster_name:
    description:
      - The EKS cluster name (template parameter C(ClusterName)), exactly as it is; nodes cannot join a
        cluster of another name.
      - Required with the collection's template and O(state=present).
      - With O(state=absent), the stack is deleted only if it belongs to this cluster; set it with
        O(nodegroup_name). Without them only the stack's marker tags or node group shape are checked.
    type: str
  control_plane_security_group:
    description:
      - The cluster control plane's security group ID (C(ClusterControlPlaneSecurityGroup)), the
        cluster's additional security group. The stack adds the rules between it and the nodes.
      - Required with the collection's template and O(state=present).
    type: str
  nodegroup_name:
    description:
      - The node group name (C(NodeGroupName)); up to 63 letters, digits, hyphens and underscores.
      - Required with the collection's template and O(state=present).
      - With O(state=absent), the stack is deleted only if it belongs to this node group.
    type: str
  min_size:
    description:
      - The minimum size of the Auto Scaling group (C(NodeAutoScalingGroupMinSize)).
    type: int
    default: 1
  desired_capacity:
    description:
      - The desired number of nodes (C(NodeAutoScalingGroupDesiredCapacity)).
      - Must be between O(min_size) and O(max_size).
    type: int
    default: 2
  max_size:
    description:
      - The maximum size of the Auto Scaling group (C(NodeAutoScalingGroupMaxSize)).
    type: int
    default: 3
  instance_type:
    description:
      - The EC2 instance type of the nodes (C(NodeInstanceType)).
    type: str
    default: m5.large
  image_ssm_parameter:
    description:
      - The SSM parameter of the EKS optimized Windows AMI, as
        RV(eksnodes.windows.windows_ami_info#module:ssm_parameter) returns it.
      - With O(image_id), it is only recorded in the stack (C(NodeImageIdSSMParam), reported in RV(parameters)); when
        unset, an existing stack keeps the value it has.
      - Without O(image_id), the module reads the AMI ID from it (C(ssm:GetParameter)) at each run, with the collection's
        template; a newer AMI published there then updates the launch template.
      - The collection's template declares no SSM-typed parameter, so CloudFormation never reads one, and a stack
        does not depend on a parameter that AWS retires with its Kubernetes version.
    type: str
  image_id:
    description:
      - The AMI ID of the nodes (C(NodeImageId)), for example RV(eksnodes.windows.windows_ami_info#module:image_id).
      - With the collection's template, O(image_id) or O(image_ssm_parameter) is required.
      - Changing it updates the launch template; the instances stay until M(eksnodes.windows.nodes_replace) replaces them.
    type: str
  volume_size:
    description:
      - The size in GiB of the nodes' encrypted gp3 root volume (C(NodeVolumeSize)), at least 50 (the
        size of the Windows AMI's root snapshot).
    type: int
    default: 50
  key_name:
    description:
      - An EC2 key pair for the nodes (C(KeyName)), to decrypt the Administrator password for RDP.
      - Empty by default; use AWS Systems Manager Session Manager to reach the nodes instead.
    type: str
    default: ""
  bootstrap_arguments:
    description:
      - Extra arguments for C(Start-EKSBootstrap.ps1) (C(BootstrapArguments)), for example
        C(-KubeletExtraArgs '--node-labels=team=a').
      - The template sets C(-EKSClusterName), C(-APIServerEndpoint), C(-Base64ClusterCA),
        C(-ServiceCIDR) and C(-DNSClusterIP) from other options; they cannot be given here.
    type: str
    default: ""
  disable_imdsv1:
    description:
      - Require IMDSv2 session tokens on the nodes (C(DisableIMDSv1)).
    type: bool
    default: true
  metadata_hop_limit:
    description:
      - The hop limit of IMDSv2 token responses (C(HttpPutResponseHopLimit)).
      - V(2) lets pods, one network hop behind the node, reach the instance metadata service, as on
        nodes of the AWS templates and eksctl; pods without an IAM role of their own then act with the
        node's role.
      - V(1) keeps the tokens on the node. Use it only when every pod that calls AWS has its own role
        (IAM roles for service accounts or EKS Pod Identity); AWS does not document how well it blocks
        Windows pods.
    type: int
    default: 2
  attach_cni_policy:
    description:
      - Attach C(AmazonEKS_CNI_Policy) to the node role (C(AttachCNIPolicy)).
      - The policy belongs on an IAM role for the C(aws-node) service account; attach it to the nodes
        only when the VPC CNI has no role of its own.
    type: bool
    default: false
  permissions_boundary:
    description:
      - The ARN of a managed policy to set as the node role's permissions boundary
        (C(NodeInstanceRolePermissionsBoundary)).
    type: str
    default: ""
  api_server_endpoint:
    description:
      - The cluster's API server endpoint (C(ApiServerEndpoint)), passed to the bootstrap with
        O(certificate_authority_data) so that nodes need no C(DescribeCluster) call.
      - When O(api_server_endpoint), O(certificate_authority_data) and O(service_cidr) are all unset, the
        module reads them with C(DescribeCluster) (if allowed).
    type: str
  certificate_authority_data:
    description:
      - The cluster's certificate authority data, base64 encoded as C(DescribeCluster) returns it
        (C(CertificateAuthorityData)).
    type: str
  service_cidr:
    description:
      - The cluster's Kubernetes service IPv4 CIDR (C(ServiceCidr)); pods need it for DNS when it is not
        one of the defaults.
    type: str
  dns_cluster_ip:
    description:
      - The cluster DNS service IP (C(DnsClusterIp)); computed from O(service_cidr) (its tenth address)
        when unset.
    type: str
  vpc_id:
    description:
      - The cluster's VPC ID (C(VpcId)).
      - Required with the collection's template and O(state=present).
    type: str
  security_groups:
    description:
      - Security group IDs attached to the nodes as well as the node group's own (C(NodeSecurityGroups)),
        usually the cluster security group (RV(eksnodes.windows.cluster_info#module:cluster.cluster_security_group_id)),
        so that Windows pods reach CoreDNS and the control plane.
      - Exactly one security group of a node may carry the tag C(kubernetes.io/cluster/<cluster_name>), or the
        Kubernetes service controller and the AWS Load Balancer Controller refuse the node (C(Multiple tagged security
        groups found for instance)). EKS tags the cluster security group; the node group's own group is not tagged.
        Do not add another tagged group (for example a Linux node security group of an AWS template) next to the
        cluster security group.
      - Required with the collection's template and O(state=present).
    type: list
    elements: str
  subnets:
    description:
      - The subnet IDs for the nodes (C(Subnets)); private subnets with a NAT gateway are recommended.
        Public subnets must assign public IPv4 addresses.
      - With the collection's template and O(state=present), this or O(subnet_candidates) is required.
      - Unset, a stack that exists keeps the subnets it runs in, so that a change of route tables or of the cluster's
        subnets never moves the nodes. Set it to move them.
      - Checked before the stack is created, or updated to other subnets (RV(input_checks)), as
        M(eksnodes.windows.preflight) checks them; not read again when they stay as they are.
    type: list
    elements: str
  subnet_candidates:
    description:
      - Without O(subnets), the subnets to choose from when the stack is created (usually the cluster's), as
        O(subnet_choice) says. None of them fitting is an error.
      - A stack that exists keeps its subnets; RV(subnets) returns those chosen or kept.
    type: list
    elements: str
  subnet_choice:
    description:
      - Which of O(subnet_candidates) a new stack gets; V(private), those whose default route does not lead to an
        internet gateway, or V(all).
    type: str
    choices: [private, all]
    default: private
  check_inputs:
    description:
      - Check the subnets and the instance type before they are written (see O(subnets)).
      - V(false) only where a plan made moments before with the same options checked them, as the nodegroup role's
        change after its plan (this module in check mode).
    type: bool
    default: true
  endpoint_private_access:
    description:
      - Whether the cluster's private API server endpoint is on (the cluster's C(endpointPrivateAccess)).
      - With V(false), subnets without a route to the internet are refused when they are written, since nodes there
        could reach the API server only through the private endpoint. Unset, that case is not checked.
    type: bool
  template:
    description:
      - The body of another template to use instead of the collection's, for example
        C("{{ lookup('ansible.builtin.file', 'amazon-eks-windows-nodegroup.yaml') }}").
      - Only the parameters it declares are passed; an option set away from its default for a
        parameter it does not declare is reported in a warning.
    type: str
  template_url:
    description:
      - The S3 URL of another template to use instead of the collection's, for example
        U(https://s3.us-west-2.amazonaws.com/amazon-eks/cloudformation/2023-02-09/amazon-eks-windows-nodegroup.yaml).
      - With a URL the module cannot compare templates, so it always asks CloudFormation with a change
        set; an empty one still reports C(changed=false).
    type: str
  template_parameters:
    description:
      - Template parameters by their template names, set as given; they override the options above.
      - With the collection's template, not C(Subnets) or C(NodeInstanceType), which are checked before they are
        written; set O(subnets) and O(instance_type).
      - Lists are joined with commas, booleans become V(true) or V(false).
    type: dict
  capabilities:
    description:
      - The capabilities to acknowledge; the collection's template needs V(CAPABILITY_IAM).
    type: list
    elements: str
    choices: [CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND]
    default: [CAPABILITY_IAM]
  tags:
    description:
      - Tags of the stack; CloudFormation also puts them on the resources it creates.
      - When unset, the stack's tags are left as they are, except the marker tags
        C(eksnodes.windows/cluster-name) and C(eksnodes.windows/nodegroup-name), which the module always
        writes; keys starting with C(eksnodes.windows/) are refused here.
    type: dict
  purge_tags:
    description:
      - Remove stack tags that are not in O(tags). Ignored when O(tags) is unset.
    type: bool
    default: true
  role_arn:
    description:
      - The ARN of an IAM role for CloudFormation to act with (a service role).
    type: str
  wait:
    description:
      - Wait until the stack operation has finished.
      - Without it, the module returns once CloudFormation has started the operation.
    type: bool
    default: true
  wait_timeout:
    description:
      - The most time, in seconds, the whole task may take, counting the wait for an operation already
        running, the computing of the change set, and the stack operation itself.
      - On timeout the task fails and CloudFormation carries on; run the task again to wait for it.
      - The stack replaces no instance when its launch template changes; M(eksnodes.windows.nodes_replace) does, draining each.
    type: int
    default: 1800
  recover_failed:
    description:
      - When the stack is in C(ROLLBACK_COMPLETE), C(ROLLBACK_FAILED), C(CREATE_FAILED) or
        C(DELETE_FAILED) (it can then only be deleted), delete it and create it again.
      - Without it the task fails, naming the earlier failure's root cause.
    type: bool
    default: false
  undrained_scale_in:
    description:
      - An update that lowers the Auto Scaling group's desired capacity (or maximum size) below the instances it runs has
        the group terminate the instances beyond it, without draining their nodes. By default such an update is refused
        before any change, and RV(leaving_instance_ids) names those instances; drain them and take them out of the group
        first (M(eksnodes.windows.nodes_drain) with O(eksnodes.windows.nodes_drain#module:terminate_in_group), as the
        C(eksnodes.windows.nodegroup) role does), then run the update.
      - With V(true), the update runs and the group terminates them.
    type: bool
    default: false
    version_added: 0.2.0
  preview_changes:
    description:
      - In check mode, compute RV(changes) (the resources CloudFormation would add, modify or replace) with a change set.
        CloudFormation records the change set, and for a new stack a stack in C(REVIEW_IN_PROGRESS); both are deleted
        before the task ends, but a deleted stack stays listed by C(ListStacks) for 90 days.
      - With V(false), check mode writes nothing. It decides from the parameters, the template and the tags whether the
        stack would be created or updated; RV(changes) is then empty, and the diff has the parameters and tags only.
        A template given by O(template_url) cannot be compared, so an existing stack is then planned as an update.
        The nodegroup role plans with V(false) before every run's first change.
    type: bool
    default: true
    version_added: 0.2.0
  ami:
    description:
      - Choose the AMI instead of giving O(image_id), as M(eksnodes.windows.windows_ami_info) chooses it with
        O(eksnodes.windows.windows_ami_info#module:current_image_id) set to the stack's C(NodeImageId). The newest EKS
        optimized AMI of the family for a new stack; for an existing one, the AMI it runs, unless O(ami.update) is set or
        the family changed. RV(ami) is the choice.
      - With the SSM parameter found, O(image_ssm_parameter) is set to it unless given.
      - In check mode this makes the task a plan of the whole node group (stack, AMI, ownership) in one module run, as
        the nodegroup role does before any change.
      - Mutually exclusive with O(image_id).
    type: dict
    version_added: 0.2.0
    suboptions:
      family:
        description:
          - The release and edition, under eksctl's C(amiFamily) name.
        type: str
        required: true
        choices:
          - WindowsServer2019CoreContainer
          - WindowsServer2019FullContainer
          - WindowsServer2022CoreContainer
          - WindowsServer2022FullContainer
          - WindowsServer2025CoreContainer
          - WindowsServer2025FullContainer
      kubernetes_version:
        description:
          - The Kubernetes version of the cluster, for example V(1.31).
        type: str
        required: true
      update:
        description:
          - Move an existing stack to the newest AMI even when it runs one of the asked family.
        type: bool
        default: false
notes:
  - With O(image_ssm_parameter) and no O(image_id), also needs C(ssm:GetParameter) on that parameter; with O(ami),
    C(ssm:GetParameter) and C(ec2:DescribeImages).
  - Needs C(cloudformation:DescribeStacks), C(GetTemplate), C(GetTemplateSummary), C(CreateChangeSet),
    C(DescribeChangeSet), C(ExecuteChangeSet), C(DeleteChangeSet), C(DescribeStackEvents),
    C(DescribeStackResources), C(DeleteStack), C(autoscaling:DescribeAutoScalingGroups), and the
    permissions to create the template's resources, including C(iam:PassRole) for the node role.
  - With the collection's template, the subnets and the instance type the stack would be given are checked first,
    when the stack is created or they change (C(ec2:DescribeSubnets), C(DescribeRouteTables),
    C(DescribeAvailabilityZones), C(DescribeVpcEndpoints), C(DescribeInstanceTypes), C(DescribeInstanceTypeOfferings)).
  - With the default template, a re-run with the same options costs a describe of the stack and one of its Auto
    Scaling group, and writes nothing. A stack whose description names the collection's template version is taken
    to run that template, which is not read (C(GetTemplate)); an edit of the stack's template that keeps the
    description is not undone.
  - AWS throttling is retried with jittered backoff.
  - The progress lines come from the action plugin of the same name. With O(wait=true) outside check mode
    it runs the module with O(wait=false) (after waiting, with progress, for an operation already running),
    then polls M(eksnodes.windows.nodegroup_stack_info), printing each new event at normal verbosity, until
    the operation ends or O(wait_timeout) passes; the result is the one the module returns with
    O(wait=true). It does not support C(async), and also needs the permissions of
    M(eksnodes.windows.nodegroup_stack_info).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - eksnodes.windows.attributes
  - eksnodes.windows.attributes.action
"""

EXAMPLES = r"""
- name: Find the AMI
  eksnodes.windows.windows_ami_info:
    kubernetes_version: "1.31"
  register: ami

- name: Create or update the Windows node group stack
  eksnodes.windows.nodegroup_stack:
    stack_name: my-cluster-nodegroup-windows
    cluster_name: my-cluster
    nodegroup_name: windows
    control_plane_security_group: sg-0123456789abcdef0
    vpc_id: vpc-0123456789abcdef0
    security_groups: [sg-0fedcba9876543210]
    subnets: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
    api_server_endpoint: https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com
    certificate_authority_data: "{{ cluster_ca }}"
    service_cidr: 10.100.0.0/16
    image_ssm_parameter: "{{ ami.ssm_parameter }}"
    image_id: "{{ ami.image_id }}"
    instance_type: m5.xlarge
    desired_capacity: 2
    max_size: 3
    tags:
      team: platform
    wait_timeout: 2400
  register: nodegroup

- name: The node role to map in aws-auth, and the instances
  ansible.builtin.debug:
    msg: "{{ nodegroup.outputs.node_instance_role_arn }} {{ nodegroup.instance_ids }}"

- name: Recreate a stack left in ROLLBACK_COMPLETE by a failed create
  eksnodes.windows.nodegroup_stack:
    stack_name: my-cluster-nodegroup-windows
    cluster_name: my-cluster
    nodegroup_name: windows
    control_plane_security_group: sg-0123456789abcdef0
    vpc_id: vpc-0123456789abcdef0
    security_groups: [sg-0fedcba9876543210]
    subnets: [subnet-0123456789abcdef0]
    recover_failed: true

- name: Use the AWS template instead
  eksnodes.windows.nodegroup_stack:
    stack_name: my-cluster-nodegroup-windows-aws
    template_url: https://s3.us-west-2.amazonaws.com/amazon-eks/cloudformation/2023-02-09/amazon-eks-windows-nodegroup.yaml
    cluster_name: my-cluster
    nodegroup_name: windows-aws
    control_plane_security_group: sg-0123456789abcdef0
    vpc_id: vpc-0123456789abcdef0
    security_groups: [sg-0fedcba9876543210]
    subnets: [subnet-0123456789abcdef0]
    # Its NodeImageIdSSMParam is SSM-typed: CloudFormation reads it on every update, so name a current one.
    image_ssm_parameter: "{{ ami.ssm_parameter }}"
    key_name: my-key
    disable_imdsv1: true

- name: Delete the stack, only if it is the windows node group's of my-cluster
  eksnodes.windows.nodegroup_stack:
    stack_name: my-cluster-nodegroup-windows
    cluster_name: my-cluster
    nodegroup_name: windows
    state: absent
"""

RETURN = r"""
operation:
  description:
    - What the task did, or would do in check mode; V(none), V(create), V(update), V(recreate) (deleted
      a failed stack and created it again) or V(delete).
  returned: always
  type: str
  sample: update
stack_name:
  description: The stack name.
  returned: always
  type: str
  sample: my-cluster-nodegroup-windows
stack_id:
  description: The stack ID.
  returned: when the stack exists
  type: str
  sample: arn:aws:cloudformation:us-east-1:123456789012:stack/my-cluster-nodegroup-windows/0a1b2c3d
subnets:
  description:
    - The nodes' subnets the stack is given (or would be, in check mode) with the collection's template and
      O(state=present), from O(subnets), kept from the stack, or chosen from O(subnet_candidates).
  returned: with the collection's template and O(state=present)
  type: list
  elements: str
  sample: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
input_checks:
  description:
    - What was done about each input checked before a write, by name (V(subnets), V(instance_type)).
    - V(checked) means it would be written and passed; V(unchanged), that the stack has it already, so it was not
      read again; V(kept), that O(subnets) is unset and the stack keeps its own; V(not checked), that it would be
      written but O(check_inputs) is false.
  returned: with the collection's template and O(state=present)
  type: dict
  sample: {"subnets": "kept", "instance_type": "unchanged"}
stack_status:
  description: The stack status at the end of the task.
  returned: when the stack exists or existed
  type: str
  sample: UPDATE_COMPLETE
stack_status_reason:
  description: The reason CloudFormation gives for the status, if any.
  returned: when the stack exists
  type: str
  sample: "The following resource(s) failed to create: [NodeGroup]. Rollback requested by user."
outputs:
  description:
    - The stack outputs under snake_case keys. With the collection's template, the keys below.
    - Outputs of another template are converted from CamelCase the same way.
  returned: always
  type: dict
  contains:
    node_instance_role_arn:
      description: The node IAM role ARN, to map in C(aws-auth) or give an C(EC2_WINDOWS) access entry.
      type: str
      sample: arn:aws:iam::123456789012:role/my-cluster-nodegroup-windows-NodeInstanceRole-1A2B3C
    node_instance_role_name:
      description: The node IAM role name.
      type: str
      sample: "my-cluster-nodegroup-windows-NodeInstanceRole-1A2B3C"
    node_instance_profile_arn:
      description: The instance profile ARN.
      type: str
      sample: "arn:aws:iam::123456789012:instance-profile/my-cluster-nodegroup-windows-NodeInstanceProfile-7G8H9I"
    node_security_group:
      description: The node group's own security group ID.
      type: str
      sample: sg-0a1b2c3d4e5f67890
    node_security_groups:
      description: Every security group ID attached to the nodes.
      type: list
      sample: ["sg-0a1b2c3d4e5f67890", "sg-0fedcba9876543210"]
      elements: str
    node_autoscaling_group:
      description: The Auto Scaling group name.
      type: str
      sample: "my-cluster-nodegroup-windows-NodeGroup-4D5E6F"
    node_launch_template:
      description: The launch template ID.
      type: str
      sample: "lt-0123456789abcdef0"
    node_launch_template_version:
      description: The launch template version the Auto Scaling group uses.
      type: str
      sample: "2"
    node_image_id:
      description: The AMI the nodes launch from.
      type: str
      sample: "ami-0123456789abcdef0"
  sample:
    node_instance_role_arn: arn:aws:iam::123456789012:role/my-cluster-nodegroup-windows-NodeInstanceRole-1A2B3C
    node_autoscaling_group: my-cluster-nodegroup-windows-NodeGroup-4D5E6F
parameters:
  description: The stack's parameter values as deployed (SSM parameters by name).
  returned: always
  type: dict
  sample:
    ClusterName: my-cluster
    NodeAutoScalingGroupDesiredCapacity: "2"
resolved_parameters:
  description:
    - The values CloudFormation resolved for SSM-typed parameters; empty with the collection's template, which has
      none (stacks of collection 0.1.0 report C(NodeImageIdSSMParam) until their next update).
  returned: always
  type: dict
  sample:
    NodeImageIdSSMParam: ami-0123456789abcdef0
instance_ids:
  description: The IDs of the Auto Scaling group's instances, leaving ones excepted.
  returned: always
  type: list
  elements: str
  sample: [i-0123456789abcdef0, i-0fedcba9876543210]
outdated_instance_ids:
  description:
    - The IDs of the instances, leaving ones excepted, launched from another launch template or version than the one the
      Auto Scaling group launches now (the stack's C(NodeLaunchTemplate) and C(NodeLaunchTemplateVersion) outputs),
      those M(eksnodes.windows.nodes_replace) would replace.
    - V(null) when that cannot be told from the group alone (a stack without those outputs, or an instance whose
      version is not a number); M(eksnodes.windows.nodes_replace) reads the instances themselves.
  returned: always
  type: list
  elements: str
  sample: [i-0123456789abcdef0]
leaving_instance_ids:
  description:
    - The instances an update of the stack would have its Auto Scaling group terminate, because it lowers the desired
      capacity (or the maximum size) below the instances the group runs; those on an older launch template first.
    - Without O(undrained_scale_in), an update (not a check-mode plan) with any is refused before any change.
  returned: always
  type: list
  elements: str
  sample: [i-0fedcba9876543210]
instances:
  description: The Auto Scaling group's instances.
  returned: always
  type: list
  sample:
    - instance_id: i-0123456789abcdef0
      lifecycle_state: InService
      health_status: Healthy
      availability_zone: us-east-1a
      instance_type: m5.large
      launch_template_id: lt-0123456789abcdef0
      launch_template_version: '2'
  elements: dict
  contains:
    instance_id:
      description: The instance ID.
      type: str
      sample: "i-0123456789abcdef0"
    lifecycle_state:
      description: The lifecycle state in the group, for example V(InService).
      type: str
      sample: "InService"
    health_status:
      description: The health status in the group.
      type: str
      sample: "Healthy"
    availability_zone:
      description: The Availability Zone.
      type: str
      sample: "us-east-1a"
    instance_type:
      description: The instance type.
      type: str
      sample: "m5.large"
    launch_template_id:
      description: The launch template the instance was launched from.
      type: str
      sample: "lt-0123456789abcdef0"
    launch_template_version:
      description: The launch template version the instance was launched from.
      type: str
      sample: "2"
change_set_id:
  description: The ID of the change set that was executed.
  returned: when a change set was executed
  type: str
  sample: "arn:aws:cloudformation:us-east-1:123456789012:changeSet/eksnodes-0a1b2c3d4e5f6789/1a2b3c4d"
changes:
  description: The resource changes of the change set.
  returned: when a change set was computed
  type: list
  elements: dict
  contains:
    action:
      description: V(Add), V(Modify), V(Remove), V(Import) or V(Dynamic).
      type: str
      sample: "Modify"
    logical_resource_id:
      description: The resource's logical ID in the template.
      type: str
      sample: "NodeLaunchTemplate"
    physical_resource_id:
      description: The resource's physical ID, for existing resources.
      type: str
      sample: "lt-0123456789abcdef0"
    resource_type:
      description: The resource type.
      type: str
      sample: "AWS::EC2::LaunchTemplate"
    replacement:
      description: Whether the change replaces the resource (V(True), V(False), V(Conditional)).
      type: str
      sample: "False"
    scope:
      description: What changes, for example V(Properties) or V(Tags).
      type: list
      sample: ["Properties"]
      elements: str
    details:
      description: The changed attributes and properties and what caused each change.
      type: list
      sample:
        - attribute: Properties
          name: LaunchTemplateData
          requires_recreation: Never
          change_source: DirectModification
          causing_entity: null
      elements: dict
  sample:
    - action: Modify
      logical_resource_id: NodeLaunchTemplate
      resource_type: AWS::EC2::LaunchTemplate
      replacement: "False"
      scope: [Properties]
parameter_changes:
  description: The parameters whose value changes, with the deployed and desired values.
  returned: when a change set was computed
  type: dict
  sample:
    NodeInstanceType:
      before: m5.large
      after: m5.xlarge
events:
  description:
    - The stack events of the operations of this task, oldest first, as they arrived while waiting.
  returned: always
  type: list
  sample:
    - timestamp: '2026-11-24T10:02:11.512000+00:00'
      logical_resource_id: NodeGroup
      physical_resource_id: my-cluster-nodegroup-windows-NodeGroup-4D5E6F
      resource_type: AWS::AutoScaling::AutoScalingGroup
      resource_status: CREATE_FAILED
      resource_status_reason: You have requested more instances than your current instance limit allows
      event_id: NodeGroup-CREATE_FAILED-2026-11-24T10:02:11.512Z
  elements: dict
  contains:
    timestamp:
      description: When the event happened.
      type: str
      sample: "2026-11-24T10:02:11.512000+00:00"
    logical_resource_id:
      description: The resource's logical ID, or the stack name for the stack itself.
      type: str
      sample: "NodeGroup"
    physical_resource_id:
      description: The resource's physical ID.
      type: str
      sample: "my-cluster-nodegroup-windows-NodeGroup-4D5E6F"
    resource_type:
      description: The resource type.
      type: str
      sample: "AWS::AutoScaling::AutoScalingGroup"
    resource_status:
      description: The status the resource reached.
      type: str
      sample: "CREATE_FAILED"
    resource_status_reason:
      description: Why, when CloudFormation says.
      type: str
      sample: "You have requested more instances than your current instance limit allows"
    event_id:
      description: The event ID.
      type: str
      sample: "NodeGroup-CREATE_FAILED-2026-11-24T10:02:11.512Z"
failure_events:
  description: On failure, the failed resources' events (then the stack's), oldest first, shaped as RV(events).
  returned: on failure of a stack operation, or when the stack is in a state left by an earlier failure
  type: list
  sample:
    - timestamp: '2026-11-24T10:02:11.512000+00:00'
      logical_resource_id: NodeGroup
      physical_resource_id: my-cluster-nodegroup-windows-NodeGroup-4D5E6F
      resource_type: AWS::AutoScaling::AutoScalingGroup
      resource_status: CREATE_FAILED
      resource_status_reason: You have requested more instances than your current instance limit allows
      event_id: NodeGroup-CREATE_FAILED-2026-11-24T10:02:11.512Z
  elements: dict
started:
  description:
    - With O(wait=false), where to take up the operation the task started (or the deletion it found
      running), for example with M(eksnodes.windows.nodegroup_stack_info).
  returned: when O(wait=false) and a stack operation was started or is deleting the stack
  type: dict
  sample:
    stack_id: arn:aws:cloudformation:us-east-1:123456789012:stack/my-cluster-nodegroup-windows/0a1b2c3d
    after_event_id: 3f1e2d3c-0a1b-11f1-9a8b-0e1f2a3b4c5d
    client_request_token: eksnodes-0a1b2c3d4e5f67890a1b2c3d4e5f6789
  contains:
    stack_id:
      description: The stack ID.
      type: str
      sample: "arn:aws:cloudformation:us-east-1:123456789012:stack/my-cluster-nodegroup-windows/0a1b2c3d"
    after_event_id:
      description: The ID of the stack's newest event before the operation; the operation's events are newer.
      type: str
      sample: "3f1e2d3c-0a1b-11f1-9a8b-0e1f2a3b4c5d"
    client_request_token:
      description: The token the operation was requested with, which its events carry; null for a deletion the task found running.
      type: str
      sample: "eksnodes-0a1b2c3d4e5f67890a1b2c3d4e5f6789"
elapsed:
  description: Seconds the task took.
  returned: on success
  type: float
  sample: 42.5
ownership:
  description:
    - When the stack was refused because it is not this node group's, why, and what was found.
  returned: when the stack is not this node group's
  type: dict
  contains:
    owned:
      description: Always V(false) here.
      type: bool
      sample: false
    marked:
      description: Whether the stack carries marker tags (of another node group).
      type: bool
      sample: false
    reason:
      description: Why the stack is not this node group's.
      type: str
      sample: "it has no marker tags and lacks the node group parameters ClusterName, NodeGroupName"
    found:
      description: The stack's name, ID, status, description, tags, C(ClusterName) and C(NodeGroupName), parameter and output names.
      type: dict
      sample: {"stack_name": "lab-nodegroup-windows", "stack_status": "CREATE_COMPLETE"}
  sample:
    owned: false
    marked: false
    reason: it has no marker tags and lacks the node group parameters ClusterName, NodeGroupName
    found: {stack_name: lab-nodegroup-windows, stack_status: CREATE_COMPLETE, description: null, tags: {team: data},
            parameters: {}, parameter_names: [], output_names: [TopicArn]}
concurrent_run:
  description: V(true) when the task failed because another run changed the stack between two of its calls.
  returned: when another run got in between
  type: bool
  sample: true
ami:
  description:
    - The AMI chosen with O(ami), with the keys M(eksnodes.windows.windows_ami_info) returns
      (RV(eksnodes.windows.windows_ami_info#module:image_id), RV(eksnodes.windows.windows_ami_info#module:resolved_by),
      RV(eksnodes.windows.windows_ami_info#module:update_available), ...).
  returned: with O(ami)
  type: dict
  version_added: 0.2.0
  sample:
    image_id: ami-0123456789abcdef0
    ssm_parameter: /aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id
    resolved_by: current
    kept_current: true
    update_available: false
    newest_image_id: ami-0123456789abcdef0
root_cause:
  description: On failure, the first failed resource event that was not a consequence of another failure.
  returned: on failure of a stack operation, or when the stack is in a state left by an earlier failure
  type: dict
  sample:
    logical_resource_id: NodeGroup
    resource_type: AWS::AutoScaling::AutoScalingGroup
    resource_status: CREATE_FAILED
    resource_status_reason: "You have requested more instances than your current instance limit allows"
"""

import time

# AnsibleAWSModule.warn() also copies warnings into the result, which ansible-core 2.19 reports as deprecated.
from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.ami import families
from ansible_collections.eksnodes.windows.plugins.module_utils.ami.choose import choose
from ansible_collections.eksnodes.windows.plugins.module_utils.ami.lookup import AmiLookupError
from ansible_collections.eksnodes.windows.plugins.module_utils.ami.lookup import get_parameter_value
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import describe_cluster
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import inputs as input_logic
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import ownership as ownership_logic
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import parameters as parameter_logic
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import stacks
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.operations import DesiredStack, NodegroupStack, StackOperationError
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.template import LIST_PARAMETERS, TEMPLATE, TEMPLATE_MARK, names_this_template
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.waiters import Deadline

CLUSTER_ACCESS_OPTIONS = ("api_server_endpoint", "certificate_authority_data", "service_cidr")


def argument_spec():
    defaults = parameter_logic.OPTION_DEFAULTS
    return dict(
        stack_name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        cluster_name=dict(type="str"),
        control_plane_security_group=dict(type="str"),
        nodegroup_name=dict(type="str"),
        min_size=dict(type="int", default=defaults["min_size"]),
        desired_capacity=dict(type="int", default=defaults["desired_capacity"]),
        max_size=dict(type="int", default=defaults["max_size"]),
        instance_type=dict(type="str", default=defaults["instance_type"]),
        image_ssm_parameter=dict(type="str"),
        image_id=dict(type="str"),
        volume_size=dict(type="int", default=defaults["volume_size"]),
        key_name=dict(type="str", default=defaults["key_name"], no_log=False),
        bootstrap_arguments=dict(type="str", default=defaults["bootstrap_arguments"]),
        disable_imdsv1=dict(type="bool", default=defaults["disable_imdsv1"]),
        metadata_hop_limit=dict(type="int", default=defaults["metadata_hop_limit"]),
        attach_cni_policy=dict(type="bool", default=defaults["attach_cni_policy"]),
        permissions_boundary=dict(type="str", default=defaults["permissions_boundary"]),
        api_server_endpoint=dict(type="str"),
        certificate_authority_data=dict(type="str"),
        service_cidr=dict(type="str"),
        dns_cluster_ip=dict(type="str"),
        vpc_id=dict(type="str"),
        security_groups=dict(type="list", elements="str"),
        subnets=dict(type="list", elements="str"),
        subnet_candidates=dict(type="list", elements="str"),
        subnet_choice=dict(type="str", choices=["private", "all"], default="private"),
        check_inputs=dict(type="bool", default=True),
        endpoint_private_access=dict(type="bool"),
        template=dict(type="str"),
        template_url=dict(type="str"),
        template_parameters=dict(type="dict"),
        capabilities=dict(type="list", elements="str", default=["CAPABILITY_IAM"],
                          choices=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        role_arn=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        recover_failed=dict(type="bool", default=False),
        preview_changes=dict(type="bool", default=True),
        undrained_scale_in=dict(type="bool", default=False),
        ami=dict(type="dict", options=dict(
            family=dict(type="str", required=True, choices=list(families.AMI_FAMILIES)),
            kubernetes_version=dict(type="str", required=True),
            update=dict(type="bool", default=False),
        )),
    )


def fill_cluster_access(module, params):
    """Read the endpoint, CA and service CIDR from DescribeCluster when none is given."""
    if any(params.get(name) for name in CLUSTER_ACCESS_OPTIONS) or not params.get("cluster_name"):
        return params
    try:
        cluster = describe_cluster(module.client("eks"), params["cluster_name"])
    except AnsibleAWSError as error:
        warn(
            f"Could not read cluster {params['cluster_name']} ({error}); the nodes' bootstrap will call DescribeCluster "
            "itself. Set api_server_endpoint, certificate_authority_data and service_cidr to avoid it"
        )
        return params
    if cluster is None:
        module.fail_json(msg=f"cluster_name {params['cluster_name']!r}: no EKS cluster has this name in {module.region}")
    filled = dict(params)
    filled["api_server_endpoint"] = cluster.get("endpoint")
    filled["certificate_authority_data"] = (cluster.get("certificateAuthority") or {}).get("data")
    filled["service_cidr"] = (cluster.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr")
    return filled


def with_chosen_ami(module, params, stack):
    """The options with image_id (and image_ssm_parameter, unless given) from the AMI chosen as windows_ami_info chooses
    it, keeping the one the stack runs unless ami.update; and that choice, for the result."""
    current = input_logic.deployed_parameters(stack).get("NodeImageId")
    try:
        release, edition = families.select(None, None, params["ami"]["family"])
        ami = choose(module.client, release, edition, params["ami"]["kubernetes_version"],
                     {"current_image_id": current or None, "update": params["ami"]["update"]}, warn)
    except families.AmiSelectionError as error:
        module.fail_json(msg=f"ami: {error}")
    except AmiLookupError as error:
        module.fail_json(msg=f"ami: {error.message}", **error.facts)
    chosen = dict(params, image_id=ami["image_id"])
    if not params.get("image_ssm_parameter") and ami["resolved_by"] == "ssm":
        chosen["image_ssm_parameter"] = ami["ssm_parameter"]
    return chosen, ami


def with_checked_inputs(module, params, stack):
    """The options with the nodes' subnets (given, kept or chosen), once the subnets and the instance type the stack
    would be given are checked; and what was done about each."""
    try:
        subnets, checked, warnings = input_logic.choose_and_check(lambda: module.client("ec2"), params, stack, module.region, params["check_inputs"])
    except input_logic.InputError as error:
        module.fail_json(msg=f"{error.message} Nothing was changed.")
    for warning in warnings:
        warn(warning)
    return dict(params, subnets=subnets), checked


def fill_image_id(module, params):
    """Read the AMI ID from image_ssm_parameter when image_id is not given (the template itself reads no SSM parameter)."""
    if not parameter_logic.needs_image_lookup(params):
        return params
    name = params["image_ssm_parameter"]
    value = get_parameter_value(module.client("ssm"), name)
    problem = parameter_logic.image_lookup_error(name, value, module.region)
    if problem:
        module.fail_json(msg=problem)
    return dict(params, image_id=value)


def desired_stack(module, cloudformation, params):
    builtin = not (params["template"] or params["template_url"])
    values = parameter_logic.template_parameters(params)
    extra = params["template_parameters"] or {}
    list_names = LIST_PARAMETERS
    if builtin:
        values = parameter_logic.with_extra(values, extra)
    else:
        summary = stacks.get_template_summary(cloudformation, params["template"], params["template_url"])
        if names_this_template(summary.get("Description")) and params["template"] != TEMPLATE:
            # Such a stack would be taken to run the collection's template, and never read again (see TEMPLATE_MARK).
            module.fail_json(msg=f"template: its Description names the collection's template ({TEMPLATE_MARK}) but its body is "
                                 "another: change the Description of a template you edit. Nothing was changed.")
        declared = parameter_logic.declared_parameters(summary)
        values, ignored, unknown = parameter_logic.select_declared(values, declared, extra)
        if unknown:
            module.fail_json(msg=f"template_parameters {', '.join(unknown)}: the template declares no such parameter")
        values = parameter_logic.with_extra(values, extra)
        if ignored:
            warn(f"The template declares no parameter for these options, which are ignored: {', '.join(ignored)}")
        missing = sorted(name for name, default in declared.items() if default is None and name not in values)
        if missing:
            module.fail_json(msg=f"The template requires parameters {', '.join(missing)}: set them in template_parameters")
        list_names = tuple(parameter_logic.list_parameter_names(summary))
    return DesiredStack(
        values,
        template_body=TEMPLATE if builtin else params["template"],
        template_url=params["template_url"],
        tags=params["tags"],
        purge_tags=params["purge_tags"],
        capabilities=params["capabilities"],
        list_parameters=list_names,
        marker=ownership_logic.marker_tags(**expected_owner(params)),
        keep_deployed=parameter_logic.KEEP_DEPLOYED if builtin else (),
        builtin_template=builtin,
    )


def expected_owner(params):
    """The cluster and node group the stack must belong to (template_parameters override the options)."""
    extra = params.get("template_parameters") or {}
    owner = {
        "cluster_name": extra.get("ClusterName") or params.get("cluster_name"),
        "nodegroup_name": extra.get("NodeGroupName") or params.get("nodegroup_name"),
    }
    if params.get("state", "present") == "present":
        # What the marker of the stack this task makes says (a template without a name gets the unknown mark).
        return {key: value or ownership_logic.UNKNOWN for key, value in owner.items()}
    return owner


def main():
    module = AWSModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("template", "template_url"), ("ami", "image_id")],
    )
    params = dict(module.params)
    params["builtin_template"] = not (params["template"] or params["template_url"])
    if params["state"] == "present":
        errors = parameter_logic.validate(params)
    else:
        errors = parameter_logic.validate_names({name: params[name] for name in ("stack_name", "cluster_name", "nodegroup_name")})
    errors = errors + ownership_logic.reserved_tag_errors(params["tags"])
    if errors:
        module.fail_json(msg="Invalid options: " + "; ".join(errors), errors=errors)

    cloudformation = module.client("cloudformation")
    manager = NodegroupStack(
        cloudformation,
        module.client("autoscaling"),
        params["stack_name"],
        Deadline(params["wait_timeout"]),
        check_mode=module.check_mode,
        wait=params["wait"],
        recover_failed=params["recover_failed"],
        role_arn=params["role_arn"],
        owner=expected_owner(params),
        preview_changes=params["preview_changes"],
        undrained_scale_in=params["undrained_scale_in"],
    )
    started = time.monotonic()
    try:
        if params["state"] == "present":
            # Once no operation runs on it: what it runs decides what is checked.
            stack, ami, checked = manager.settled(manager.read_owned()), None, {}
            if params["ami"]:
                params, ami = with_chosen_ami(module, params, stack)
            if params["builtin_template"]:
                params, checked = with_checked_inputs(module, params, stack)
                params = fill_cluster_access(module, fill_image_id(module, params))
            result = manager.present(desired_stack(module, cloudformation, params), stack)
            if ami:
                result["ami"] = ami
            if params["builtin_template"]:
                result.update(subnets=params["subnets"], input_checks=checked)
        else:
            result = manager.absent()
    except StackOperationError as error:
        for warning in manager.warnings:
            warn(warning)
        facts = dict(error.facts)
        diff = facts.pop("diff", None)
        if module._diff and diff:  # pylint: disable=protected-access
            facts["diff"] = diff
        module.fail_json(msg=error.message, stack_name=params["stack_name"], **facts)
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    for warning in manager.warnings:
        warn(warning)
    diff = result.pop("diff", None)
    if module._diff and diff:  # pylint: disable=protected-access
        result["diff"] = diff
    result["elapsed"] = round(time.monotonic() - started, 1)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
