"""CloudFormation routes of the lab: moto's paths, handled by the lab's response class."""

from moto.cloudformation.urls import url_bases as moto_url_bases

from lab.aws.cloudformation.responses import LabCloudFormationResponse

url_bases = list(moto_url_bases)

url_paths = {
    "{0}/$": LabCloudFormationResponse.dispatch,
    "{0}/cloudformation_(?P<region>[^/]+)/cfnresponse$": LabCloudFormationResponse.cfnresponse,
}
