"""Branding: the logo is checked and re-encoded with Pillow; the webmail login page shows it."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from tests.panel.test_authorization import fingerprint

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def jpeg_with_exif(size=(1600, 400)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_manager_uploads_a_logo_that_is_re_encoded_and_shown_on_webmail_login(world, manager_client):
    url = reverse("mailadmin:domain_branding", args=[world.domain.name])
    upload = SimpleUploadedFile("logo.jpg", jpeg_with_exif(), content_type="image/jpeg")
    response = manager_client.post(url, {"brand_name": "ACME S.p.A.", "brand_logo": upload})
    assert response.status_code == 302
    world.domain.refresh_from_db()
    assert world.domain.brand_name == "ACME S.p.A."
    with world.domain.brand_logo.open("rb") as f:
        stored = f.read()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG" and image.size == (480, 120)
    assert b"SecretCamera" not in stored and not image.getexif()
    # the webmail login page of that domain shows name and logo
    page = Client().get("/webmail/login/?domain=acme.test").content.decode()
    assert "ACME S.p.A." in page and "/webmail/brand/acme.test/logo.png" in page
    logo = Client().get("/webmail/brand/acme.test/logo.png")
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    # another domain's login page does not
    assert "ACME S.p.A." not in Client().get("/webmail/login/?domain=other.test").content.decode()


@pytest.mark.parametrize(
    "payload,name,message",
    [
        (b"%PDF-1.4 not an image", "logo.png", "The logo must be a PNG or JPEG image."),
        (None, "logo.gif", "The logo must be a PNG or JPEG image."),
        (b"\x89PNG" + b"0" * (1024 * 1024), "huge.png", "The logo is larger than 1 MB."),
    ],
    ids=["not an image", "gif", "too large"],
)
def test_bad_logo_is_refused_with_a_clear_error(world, manager_client, payload, name, message):
    if payload is None:
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, format="GIF")
        payload = out.getvalue()
    url = reverse("mailadmin:domain_branding", args=[world.domain.name])
    before = fingerprint()
    response = manager_client.post(
        url, {"brand_name": "Changed", "brand_logo": SimpleUploadedFile(name, payload)}, **EN
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert fingerprint() == before


def blank_png(width: int, height: int, mode: str) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "width,height,mode",
    [(6320, 6320, "RGBA"), (20000, 20000, "1")],
    ids=["40 Mpx under 1 MB", "400 Mpx past Pillow's own limit"],
)
def test_a_png_bomb_is_refused_as_too_many_pixels(world, manager_client, width, height, mode):
    # given a small file that declares a huge canvas (decoding it would take hundreds of MB)
    payload = blank_png(width, height, mode)
    assert len(payload) < 200_000
    url = reverse("mailadmin:domain_branding", args=[world.domain.name])
    before = fingerprint()
    # when the Manager uploads it
    response = manager_client.post(
        url, {"brand_name": "Bomb", "brand_logo": SimpleUploadedFile("logo.png", payload)}, **EN
    )
    # then it is refused with the reason, and nothing changed
    assert response.status_code == 400
    assert "The logo has too many pixels." in response.content.decode()
    assert fingerprint() == before


def test_a_large_real_jpeg_is_still_accepted_and_fitted(world, manager_client):
    # given a 12 Mpx photo (4000×3000) used as a logo
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), (10, 120, 200)).save(out, format="JPEG")
    url = reverse("mailadmin:domain_branding", args=[world.domain.name])
    # when uploaded
    response = manager_client.post(
        url, {"brand_name": "Photo", "brand_logo": SimpleUploadedFile("logo.jpg", out.getvalue())}
    )
    # then it is stored as a PNG fitted to the header box
    assert response.status_code == 302
    world.domain.refresh_from_db()
    with world.domain.brand_logo.open("rb") as f:
        image = Image.open(io.BytesIO(f.read()))
    assert (image.format, image.size) == ("PNG", (160, 120))
