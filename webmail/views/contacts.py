"""The address book: the user's contacts (list, add, edit, delete, vCard import and export,
"add sender to contacts"), the recipient suggestions of compose (contacts, past recipients,
the domain's directory) and "always show remote images from this sender"."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from webmail import contacts
from webmail.views.common import webmail_view


class ContactForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    address = forms.EmailField(label=gettext_lazy("Address"), max_length=254)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=50, required=False)
    organization = forms.CharField(label=gettext_lazy("Organization"), max_length=200, required=False)
    notes = forms.CharField(
        label=gettext_lazy("Notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("vCard file (.vcf)"))


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=False):
        return target
    return fallback


@webmail_view
def contact_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    context = {
        "folder": None,
        "contacts": contacts.contacts_for(user=request.user, query=query)[:1000],
        "directory": contacts.directory_for(mailbox=request.mailbox, query=query, limit=500),
        "query": query,
        "import_form": ImportForm(),
        "import_errors": request.session.pop("webmail_import_errors", []),
    }
    return render(request, "webmail/contacts.html", context)


def _save(request: HttpRequest, form: ContactForm, contact=None):
    try:
        if contact is None:
            return contacts.contact_create(user=request.user, **form.cleaned_data)
        return contacts.contact_update(contact=contact, **form.cleaned_data)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None


@webmail_view
def contact_new(request: HttpRequest) -> HttpResponse:
    initial = {"address": request.GET.get("address", "")[:254], "name": request.GET.get("name", "")[:200]}
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and _save(request, form):
        messages.success(request, _("Contact saved."))
        return redirect("webmail:contacts")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "folder": None, "contact": None}
    return render(request, "webmail/contact_form.html", context, status=status)


@webmail_view
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contacts.contact_of(user=request.user, pk=pk)
    if contact is None:
        raise Http404
    initial = {name: getattr(contact, name) for name in contacts.CONTACT_FIELDS}
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and _save(request, form, contact):
        messages.success(request, _("Contact saved."))
        return redirect("webmail:contacts")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "folder": None, "contact": contact}
    return render(request, "webmail/contact_form.html", context, status=status)


@require_POST
@webmail_view
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contacts.contact_of(user=request.user, pk=pk)
    if contact is None:
        raise Http404
    contacts.contact_delete(contact=contact)
    messages.success(request, _("Contact deleted."))
    return redirect("webmail:contacts")


@require_POST
@webmail_view
def contact_add_sender(request: HttpRequest) -> HttpResponse:
    """ "Add to contacts" on a message: the sender's name and address (already there: unchanged)."""
    address, name = request.POST.get("address", "")[:254], request.POST.get("name", "")[:200]
    back = _back(request, "/")
    if contacts.contacts_for(user=request.user).filter(address__iexact=address.strip()).exists():
        messages.info(request, _("%(address)s is already in your contacts.") % {"address": address})
        return redirect(back)
    try:
        contacts.contact_create(user=request.user, name=name, address=address)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    messages.success(request, _("%(address)s added to your contacts.") % {"address": address})
    return redirect(back)


@require_POST
@webmail_view
def contacts_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a vCard file (.vcf) to import."))
        return redirect("webmail:contacts")
    upload = form.cleaned_data["file"]
    if upload.size > contacts.VCARD_MAX_BYTES:
        messages.error(
            request,
            _("The file is too big (at most %(mb)s MB).") % {"mb": contacts.VCARD_MAX_BYTES // (1024 * 1024)},
        )
        return redirect("webmail:contacts")
    try:
        result = contacts.vcard_import(user=request.user, data=upload.read())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("webmail:contacts")
    messages.success(
        request,
        ngettext(
            "%(created)s contact added, %(updated)s updated.",
            "%(created)s contacts added, %(updated)s updated.",
            result.created,
        )
        % {"created": result.created, "updated": result.updated},
    )
    if result.errors:
        request.session["webmail_import_errors"] = result.errors[:200]
    return redirect("webmail:contacts")


@webmail_view
def contacts_export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        contacts.vcard_export(user=request.user), content_type="text/vcard; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="contacts.vcf"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@webmail_view
def suggest(request: HttpRequest) -> JsonResponse:
    found = contacts.suggestions_for(
        user=request.user, mailbox=request.mailbox, query=request.GET.get("q", "")[:100]
    )
    return JsonResponse({"results": found})


@require_POST
@webmail_view
def trusted_sender_add(request: HttpRequest) -> HttpResponse:
    """ "Always show remote images from this sender" (from the reader's notice)."""
    address = request.POST.get("address", "")[:254]
    back = _back(request, "/")
    try:
        contacts.trusted_sender_add(user=request.user, address=address)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    messages.success(
        request, _("Remote images from %(address)s will always be shown.") % {"address": address}
    )
    return redirect(back)


@require_POST
@webmail_view
def trusted_sender_remove(request: HttpRequest) -> HttpResponse:
    address = request.POST.get("address", "")[:254]
    contacts.trusted_sender_remove(user=request.user, address=address)
    messages.success(
        request, _("Remote images from %(address)s will be blocked again.") % {"address": address}
    )
    return redirect(_back(request, "/"))
