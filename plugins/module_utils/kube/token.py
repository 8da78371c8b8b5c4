# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""EKS bearer tokens minted from AWS credentials, as `aws eks get-token` makes them.

The token is a presigned STS GetCallerIdentity URL that carries the cluster name in the signed
header x-k8s-aws-id. EKS accepts a token for 15 minutes, so long waits must mint new ones.
"""

import base64
import time
from typing import Callable

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_NAME_HEADER = "x-k8s-aws-id"
# Presigned URLs are checked by EKS against a 15 minute lifetime; renew well before that.
REFRESH_AFTER_SECONDS = 10 * 60
PRESIGN_EXPIRES_SECONDS = 60


def mint_token(sts_client, cluster_name: str) -> str:
    def add_cluster_header(request, **_kwargs):
        request.headers[CLUSTER_NAME_HEADER] = cluster_name

    event = "before-sign.sts.GetCallerIdentity"
    sts_client.meta.events.register(event, add_cluster_header)
    try:
        url = sts_client.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=PRESIGN_EXPIRES_SECONDS, HttpMethod="GET"
        )
    finally:
        sts_client.meta.events.unregister(event, add_cluster_header)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("utf-8").rstrip("=")


class TokenSource:
    """Hands out a bearer header value, minting a new token when the current one is getting old."""

    def __init__(self, mint: Callable[[], str], refresh_after: float = REFRESH_AFTER_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._mint = mint
        self._refresh_after = refresh_after
        self._clock = clock
        self._token = ""
        self._minted_at = float("-inf")
        self.mint_count = 0

    def bearer(self) -> str:
        if self._clock() - self._minted_at >= self._refresh_after:
            self._token = self._mint()
            self._minted_at = self._clock()
            self.mint_count += 1
        return "Bearer " + self._token

    def refresh_hook(self, configuration) -> None:
        """Set as kubernetes.client.Configuration.refresh_api_key_hook; runs before every request."""
        configuration.api_key["authorization"] = self.bearer()
