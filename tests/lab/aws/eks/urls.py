"""EKS routes of the lab: moto's, plus access entries, add-ons, updates, access policies and Pod Identity associations.

The route only has to reach the handler class; moto then picks the operation from the method and raw path
with the EKS service model, so one pattern per path prefix is enough.
"""

from moto.eks.urls import url_bases as moto_url_bases
from moto.eks.urls import url_paths as moto_url_paths

from lab.aws.eks.responses import LabEksResponse

url_bases = list(moto_url_bases)

url_paths = {path: LabEksResponse.dispatch for path in moto_url_paths}
url_paths.update({
    "{0}/clusters/(?P<name>[^/]+)/access-entries$": LabEksResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principal>.+)$": LabEksResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/addons$": LabEksResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addon>.+)$": LabEksResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/updates$": LabEksResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<update>[^/]+)$": LabEksResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$": LabEksResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<association>[^/]+)$": LabEksResponse.dispatch,
    "{0}/addons/(?P<resource>[^/]+)$": LabEksResponse.dispatch,
    "{0}/access-policies$": LabEksResponse.dispatch,
})
