# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or its content as a dictionary.
      - When this or any other Kubernetes connection option is set (here or through the
        E(K8S_AUTH_*) environment variables), it is used as is.
      - When none is set and the module knows the EKS cluster, it connects to the cluster's endpoint
        with its certificate authority and a token minted from the AWS credentials, renewed
        before it expires, as C(aws eks get-token) does. No kubeconfig is needed then.
      - Can also be set with E(K8S_AUTH_KUBECONFIG).
    type: raw
  context:
    description:
      - The kubeconfig context to use. Can also be set with E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - The Kubernetes API server URL. Can also be set with E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - A bearer token for the API server. Can also be set with E(K8S_AUTH_API_KEY).
    type: str
  ca_cert:
    description:
      - Path to the CA certificate of the API server. Can also be set with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate. Can also be set with E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of the client certificate. Can also be set with E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  proxy:
    description:
      - An HTTP proxy URL for the API server connection. Can also be set with E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description:
      - Hosts that bypass O(proxy). Can also be set with E(K8S_AUTH_NO_PROXY).
    type: str
notes:
  - Certificate verification of the API server can be turned off only with E(K8S_AUTH_VERIFY_SSL=no);
    the O(validate_certs) option belongs to the AWS connection.
requirements:
  - kubernetes >= 24.2.0
"""
