"""A phone for the tests: drives /Microsoft-Server-ActiveSync through Django's test client with
requests built by libwbxml's xml2wbxml and answers read by its wbxml2xml (tests.activesync.libwbxml)."""

from __future__ import annotations

import base64
import http.client
from dataclasses import dataclass, field
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from django.test import Client

from tests.activesync import libwbxml

WBXML = "application/vnd.ms-sync.wbxml"
A, B, F, P, M = "{AirSync}", "{AirSyncBase}", "{FolderHierarchy}", "{Provision}", "{Email}"
NS = (
    'xmlns:email="Email:" xmlns:email2="Email2:" xmlns:airsyncbase="AirSyncBase:" xmlns:settings="Settings:" '
    'xmlns:as="AirSync:"'
)


class LiveAnswer:
    """What the phone reads of an answer, as Django's test client gives it."""

    def __init__(self, response: http.client.HTTPResponse):
        self.status_code = response.status
        self.content = response.read()
        self.headers = {name: value for name, value in response.getheaders()}

    def __getitem__(self, name: str) -> str:
        return next(v for k, v in self.headers.items() if k.lower() == name.lower())


class LiveClient:
    """A client for a real server (the ASGI process under uvicorn) with the test client's `post`:
    one HTTP/1.1 connection per request, as a phone's long-poll Ping makes."""

    def __init__(self, host: str, port: int, timeout: float = 120):
        self.host, self.port, self.timeout = host, port, timeout

    def post(self, path: str, data: bytes, content_type: str, secure: bool = False, **meta) -> LiveAnswer:
        headers = {"Content-Type": content_type}
        for key, value in meta.items():
            headers[key.removeprefix("HTTP_").replace("_", "-").title()] = value
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("POST", path, body=data, headers=headers)
            return LiveAnswer(conn.getresponse())
        finally:
            conn.close()


@dataclass
class Response:
    status: int
    headers: dict
    document: ET.Element | None


@dataclass
class Phone:
    login: str
    password: str
    device_id: str = "ApplTEST0001"
    device_type: str = "iPhone"
    version: str = "14.1"
    policy_key: str = ""
    client: Client | LiveClient = field(default_factory=Client)
    # The base64 form of the request line (MS-ASHTTP 2.2.1.1.1.1), as Windows Mail sends it: the
    # version and the policy key go in it, not in headers; device_id must then be hex.
    base64_query: bool = False

    def request(self, command: str, xml: str | None, *, password: str | None = None) -> Response:
        query = urlencode(
            {"Cmd": command, "User": self.login, "DeviceId": self.device_id, "DeviceType": self.device_type}
        )
        secret = base64.b64encode(f"{self.login}:{password or self.password}".encode()).decode()
        headers = {
            "HTTP_AUTHORIZATION": f"Basic {secret}",
            "HTTP_MS_ASPROTOCOLVERSION": self.version,
            "HTTP_USER_AGENT": "Apple-iPhone/1402.100",
        }
        if self.policy_key:
            headers["HTTP_X_MS_POLICYKEY"] = self.policy_key
        if self.base64_query:
            query = base64_request_line(self, command)
            del headers["HTTP_MS_ASPROTOCOLVERSION"]
            headers.pop("HTTP_X_MS_POLICYKEY", None)
        body = libwbxml.xml2wbxml(xml) if xml else b""
        answer = self.client.post(
            f"/Microsoft-Server-ActiveSync?{query}", data=body, content_type=WBXML, secure=True, **headers
        )
        document = None
        if answer.status_code == 200 and answer.content:
            assert answer["Content-Type"] == WBXML
            document = libwbxml.read(answer.content, opaque=("{Email2}ConversationId",))
        return Response(answer.status_code, dict(answer.headers), document)

    def command(self, command: str, xml: str | None) -> ET.Element:
        response = self.request(command, xml)
        assert response.status == 200, response
        assert response.document is not None
        return response.document

    def provision(self) -> str:
        first = self.command(
            "Provision",
            f'<Provision xmlns="Provision:" {NS}><settings:DeviceInformation><settings:Set>'
            "<settings:Model>iPhone15,2</settings:Model><settings:OS>iOS 17.4</settings:OS>"
            "</settings:Set></settings:DeviceInformation><Policies><Policy>"
            "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>",
        )
        temporary = first.findtext(f"{P}Policies/{P}Policy/{P}PolicyKey")
        assert first.findtext(f"{P}Status") == "1" and temporary
        second = self.command(
            "Provision",
            '<Provision xmlns="Provision:"><Policies><Policy>'
            "<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>"
            f"<PolicyKey>{temporary}</PolicyKey><Status>1</Status></Policy></Policies></Provision>",
        )
        self.policy_key = second.findtext(f"{P}Policies/{P}Policy/{P}PolicyKey")
        assert self.policy_key and self.policy_key != temporary
        return self.policy_key

    def folder_sync(self, key: str = "0") -> ET.Element:
        return self.command(
            "FolderSync", f'<FolderSync xmlns="FolderHierarchy:"><SyncKey>{key}</SyncKey></FolderSync>'
        )

    def inbox_id(self) -> str:
        """A FolderSync from key 0: the INBOX's ServerId (FolderHierarchy Type 2)."""
        return next(
            add.findtext(f"{F}ServerId")
            for add in self.folder_sync().iter(f"{F}Add")
            if add.findtext(f"{F}Type") == "2"
        )

    def folder_ids(self, answer: ET.Element) -> dict[str, str]:
        """DisplayName → ServerId of the folders added in a FolderSync answer, by Type for specials."""
        return {
            add.findtext(f"{F}DisplayName"): add.findtext(f"{F}ServerId") for add in answer.iter(f"{F}Add")
        }

    def sync(
        self,
        collection_id: str,
        key: str,
        *,
        window: int = 100,
        commands: str = "",
        body_type: int | None = 1,
        truncation: int | None = None,
        extra: str = "",
    ) -> ET.Element:
        truncation_xml = (
            f"<airsyncbase:TruncationSize>{truncation}</airsyncbase:TruncationSize>" if truncation else ""
        )
        options = (
            ""
            if key == "0" or body_type is None
            else f"<Options><airsyncbase:BodyPreference><airsyncbase:Type>{body_type}</airsyncbase:Type>"
            f"{truncation_xml}</airsyncbase:BodyPreference>{extra}</Options>"
        )
        commands_xml = f"<Commands>{commands}</Commands>" if commands else ""
        get_changes = "" if key == "0" else "<GetChanges/>"
        answer = self.command(
            "Sync",
            f'<Sync xmlns="AirSync:" {NS}><Collections><Collection><SyncKey>{key}</SyncKey>'
            f"<CollectionId>{collection_id}</CollectionId>{get_changes}<WindowSize>{window}</WindowSize>"
            f"{options}{commands_xml}</Collection></Collections></Sync>",
        )
        collection = answer.find(f"{A}Collections/{A}Collection")
        assert collection is not None, ET.tostring(answer)
        return collection


BASE64_COMMAND_CODES = {"Sync": 0, "SendMail": 1, "FolderSync": 9, "GetItemEstimate": 14, "Ping": 18}
BASE64_COMMAND_CODES |= {"ItemOperations": 19, "Provision": 20, "Settings": 17, "MoveItems": 13}


def base64_request_line(phone: Phone, command: str) -> str:
    """MS-ASHTTP 2.2.1.1.1.1: version, command code, locale (en-US), then the device id, the
    policy key (uint32, little-endian) and the device type, each after its one-byte length."""
    major, minor = phone.version.split(".")
    device = bytes.fromhex(phone.device_id)
    key = int(phone.policy_key).to_bytes(4, "little") if phone.policy_key else b""
    kind = phone.device_type.encode()
    line = bytes([int(major) * 10 + int(minor), BASE64_COMMAND_CODES[command]]) + (0x0409).to_bytes(
        2, "little"
    )
    line += bytes([len(device)]) + device + bytes([len(key)]) + key + bytes([len(kind)]) + kind
    return base64.b64encode(line).decode()


def commands_of(collection: ET.Element, kind: str) -> list[ET.Element]:
    return collection.findall(f"{A}Commands/{A}{kind}")
