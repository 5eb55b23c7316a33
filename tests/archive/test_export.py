"""Exports: streamed (StreamingHttpResponse), a .zip of the exact .eml bytes with a manifest that
docs/archive_verify_export.py (run here as a third party would, in a subprocess, with nothing of
the suite) verifies against the chain, and which detects a modified message; mbox (mboxrd)."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.http import StreamingHttpResponse

from archiving.blobstore import blob_store
from archiving.models import Archive, ArchivedMessage
from tests.archive.conftest import journal, raw

pytestmark = pytest.mark.django_db

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "archive_verify_export.py"


def export(client, archive_id: int, data: dict) -> bytes:
    response = client.post(f"/archive/a/{archive_id}/export/", data)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"].startswith("attachment;")
    return b"".join(response.streaming_content)


def run_script(path: Path, *args: str) -> tuple[int, str]:
    # -I: isolated mode (no PYTHONPATH, no site-packages of the suite, no current directory)
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, "-I", str(SCRIPT), str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_zip_export_holds_the_exact_messages_and_a_manifest(world, owner_client):
    a = world.archive.pk
    content = export(owner_client, a, {"id": [world.old.pk, world.sent.pk], "format": "zip"})
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        names = zf.namelist()
        expected = [f"received/{world.old.seq:09d}.eml", f"sent/{world.sent.seq:09d}.eml", "manifest.json"]
        assert names == expected
        assert zf.read(names[0]) == blob_store().get(world.old.blob_id)
        manifest = json.loads(zf.read("manifest.json"))
    archive = Archive.objects.get(pk=a)
    assert manifest["head"] == {"seq": archive.head_seq, "hash": archive.head_hash}
    first = manifest["messages"][0]
    assert (first["seq"], first["entry_hash"], first["prev_hash"], first["blob_sha256"]) == (
        world.old.seq,
        world.old.entry_hash,
        world.old.prev_hash,
        world.old.blob_id,
    )
    assert json.loads(first["canonical"])["subject"] == "old-contract"
    assert [link[0] for link in manifest["chain"]] == [1, 2, 3]


def test_the_standalone_script_verifies_an_export_and_detects_a_modified_message(
    world, owner_client, tmp_path
):
    a = world.archive.pk
    content = export(owner_client, a, {"scope": "search", "q": "", "folder": "received", "format": "zip"})
    good = tmp_path / "export.zip"
    good.write_bytes(content)
    code, out = run_script(good)
    assert (code, out.split(";")[0]) == (0, "OK: 2 message(s) verified")
    head = Archive.objects.get(pk=a).head_hash
    assert run_script(good, "--head", head)[0] == 0
    assert run_script(good, "--head", "0" * 64)[0] == 1

    # one byte of one message changed: the script names it
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith(f"{world.inside.seq:09d}.eml"):
                data = data.replace(b"zanzibar", b"zanzibas")
            dst.writestr(name, data)
    code, out = run_script(tampered)
    assert code == 1
    assert out == f"BROKEN: received/{world.inside.seq:09d}.eml: content does not match its hash (modified)\n"


def test_the_script_detects_a_rewritten_subject_in_the_manifest(world, owner_client, tmp_path):
    content = export(owner_client, world.archive.pk, {"id": [world.inside.pk], "format": "zip"})
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(forged, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json":
                data = data.replace(b"budget", b"budgie")
            dst.writestr(name, data)
    code, out = run_script(forged)
    assert code == 1 and "entry hash does not match" in out


def test_the_script_detects_a_chain_rewritten_after_the_export(world, owner_client, tmp_path):
    # an entry removed from the chain between the exported message and the head
    content = export(owner_client, world.archive.pk, {"id": [world.old.pk], "format": "zip"})
    forged = tmp_path / "gap.zip"
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(forged, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        del manifest["chain"][1]
        for name in src.namelist():
            data = json.dumps(manifest).encode() if name == "manifest.json" else src.read(name)
            dst.writestr(name, data)
    code, out = run_script(forged)
    assert (code, out) == (1, "BROKEN: chain: entry 2 missing (next listed is 3)\n")


def test_mbox_export_is_mboxrd(world, owner_client):
    body = "line\r\nFrom here\r\n>From there"
    entry = journal(world.owner, raw("quoting", date="Wed, 02 Jul 2025 09:00:00 +0200", body=body))
    content = export(owner_client, world.archive.pk, {"id": [entry.pk, world.sent.pk], "format": "mbox"})
    assert content.startswith(b"From ceo@acme.test Tue Jul 01 07:00:00 2025\n")
    assert b"\nFrom alice@far.example Wed Jul 02 07:00:00 2025\n" in content
    assert b"\r\n>From here\r\n>>From there" in content
    assert content.count(b"\nFrom ") == 1


def test_export_streams_with_flat_memory(world, owner_client):
    """Many messages: the response is consumed chunk by chunk; no chunk holds more than about
    one message, so memory does not grow with the export."""
    big = "x" * 200_000
    ids = [
        journal(world.owner, raw(f"big{n}", date="Wed, 02 Jul 2025 09:00:00 +0200", body=f"{n}{big}")).pk
        for n in range(12)
    ]
    response = owner_client.post(f"/archive/a/{world.archive.pk}/export/", {"id": ids, "format": "zip"})
    sizes = [len(chunk) for chunk in response.streaming_content]
    assert len(sizes) >= 12
    assert max(sizes) < 150_000  # deflated: one message (~200 KB raw) at a time
    assert ArchivedMessage.objects.filter(pk__in=ids).count() == 12
