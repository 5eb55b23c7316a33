"""Forms of the Archive's plan, shared by the control panel and the Archive portal: the
retention, the removal (the address typed), the import wizard's folder mapping. They parse
input only; archiving.services and archiving.importing validate and write."""

import hashlib

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from archiving.importing import TARGETS, ImportFolder
from archiving.models import RETENTION_MAX_YEARS, RETENTION_MIN_YEARS


def retention_choices() -> list[tuple[int, str]]:
    return [
        (n, ngettext("%(n)d year", "%(n)d years", n) % {"n": n})
        for n in range(RETENTION_MIN_YEARS, RETENTION_MAX_YEARS + 1)
    ]


class RetentionForm(forms.Form):
    retention_years = forms.TypedChoiceField(
        label=_("Keep messages for"), coerce=int, choices=retention_choices
    )


class ArchiveRemoveForm(forms.Form):
    confirm_address = forms.CharField(
        label=_("Type the address to confirm"),
        max_length=320,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )


def folder_field_name(name: str) -> str:
    return "folder_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


class ImportMappingForm(forms.Form):
    """One choice per folder of the live mailbox: Received, Sent or Ignore, pre-mapped."""

    def __init__(self, *args, folders: list[ImportFolder], **kwargs):
        super().__init__(*args, **kwargs)
        self.folders = folders
        for folder in folders:
            self.fields[folder_field_name(folder.name)] = forms.ChoiceField(
                label=folder.label, choices=TARGETS, initial=folder.target, required=False
            )

    def rows(self):
        for folder in self.folders:
            yield folder, self[folder_field_name(folder.name)]

    def mapping(self) -> dict[str, str]:
        """Each folder's choice; a folder left out (one created since the page was shown) keeps
        its pre-mapping."""
        return {f.name: self.cleaned_data.get(folder_field_name(f.name)) or f.target for f in self.folders}
