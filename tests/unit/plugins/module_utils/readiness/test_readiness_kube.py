import json

import pytest
from kubernetes.client.rest import ApiException
from urllib3.exceptions import ProtocolError

from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.kube import KubeNodeSource, KubeReadError
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.waiter import Unauthorized, WatchDropped, WatchExpired


class Stream:
    """A urllib3 response as the client returns it with _preload_content=False."""

    def __init__(self, chunks=(), data=b"", fail_after=None):
        self.chunks = list(chunks)
        self.data = data
        self.fail_after = fail_after
        self.closed = False

    def stream(self, amt=None, decode_content=False):  # pylint: disable=unused-argument
        for index, chunk in enumerate(self.chunks):
            if self.fail_after is not None and index == self.fail_after:
                raise ProtocolError("Connection broken")
            yield chunk

    def close(self):
        self.closed = True

    def release_conn(self):
        pass


class StubCore:
    def __init__(self, responses):
        self.responses = list(responses)
        self.calls = []

    def list_node(self, **kwargs):
        self.calls.append(kwargs)
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


def source(*responses, selector=None):
    connects = []
    handle = KubeNodeSource(lambda: connects.append(1) or object(), selector)
    handle.core = StubCore(responses)
    handle.connects = connects
    return handle


def line(kind, obj):
    return (json.dumps({"type": kind, "object": obj}) + "\n").encode()


def test_list_returns_nodes_by_name_and_the_resource_version():
    body = {"metadata": {"resourceVersion": "42"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}
    nodes, version = source(Stream(data=json.dumps(body).encode()), selector="kubernetes.io/os=windows").list()
    assert sorted(nodes) == ["a", "b"] and version == "42"


def test_the_selector_and_the_watch_parameters_reach_the_api():
    handle = source(Stream(chunks=[line("ADDED", {"metadata": {"name": "a", "resourceVersion": "5"}})]), selector="a=b")
    events = list(handle.watch("4", 2.2))
    assert [e["type"] for e in events] == ["ADDED"]
    call = handle.core.calls[0]
    assert call["watch"] is True and call["resource_version"] == "4" and call["timeout_seconds"] == 3
    assert call["allow_watch_bookmarks"] is True and call["label_selector"] == "a=b"
    assert call["_request_timeout"][1] > call["timeout_seconds"]


def test_events_split_across_chunks_are_joined():
    raw = line("MODIFIED", {"metadata": {"name": "a"}})
    events = list(source(Stream(chunks=[raw[:10], raw[10:] + b"\n"])).watch("1", 1))
    assert events[0]["object"]["metadata"]["name"] == "a"


@pytest.mark.parametrize("code, error", [(410, WatchExpired), (401, Unauthorized), (500, WatchDropped), (403, KubeReadError)])
def test_error_events_are_translated(code, error):
    status = {"kind": "Status", "code": code, "reason": "Expired", "message": "too old resource version"}
    stream = Stream(chunks=[line("ERROR", status)])
    with pytest.raises(error):
        list(source(stream).watch("1", 1))
    assert stream.closed


@pytest.mark.parametrize("code, error", [(401, Unauthorized), (410, WatchExpired), (403, KubeReadError)])
def test_errors_opening_the_watch_are_translated(code, error):
    with pytest.raises(error):
        source(ApiException(status=code, reason="x")).watch("1", 1)


def test_a_dropped_stream_lists_again():
    stream = Stream(chunks=[line("ADDED", {"metadata": {"name": "a"}}), b"never"], fail_after=1)
    events = []
    with pytest.raises(WatchExpired, match="the node watch ended"):
        for event in source(stream).watch("1", 1):
            events.append(event)
    assert len(events) == 1 and stream.closed


def test_a_forbidden_list_says_what_could_not_be_done():
    error = ApiException(status=403, reason="Forbidden")
    error.body = json.dumps({"reason": "Forbidden", "message": 'nodes is forbidden: User "x" cannot list resource "nodes"'})
    with pytest.raises(KubeReadError, match='^cannot list nodes: Forbidden: nodes is forbidden'):
        source(error).list()


def test_reconnect_builds_a_new_client():
    handle = source()
    handle.reconnect()
    assert len(handle.connects) == 2
