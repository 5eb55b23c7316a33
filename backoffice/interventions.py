"""Provider staff record an extraordinary intervention (issue 15 item 5): a domain, what was done
and the price (the price list's, or a stated amount). It becomes one ledger event through
billing.services.charge_intervention, so it shows in the customer's Monitor and in the
end-of-day notice like a Time Machine restore does."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import LedgerEvent
from billing.selectors import price_list_on
from billing.services import charge_intervention
from domains.models import Domain


class DomainChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.customer.company_name})"


class InterventionForm(forms.Form):
    domain = DomainChoice(
        label=gettext_lazy("Domain"), queryset=Domain.objects.select_related("customer").order_by("name")
    )
    description = forms.CharField(label=gettext_lazy("What was done"), max_length=300)
    price = forms.ChoiceField(
        label=gettext_lazy("Price"),
        choices=[("list", gettext_lazy("from the price list")), ("amount", gettext_lazy("this amount"))],
        initial="list",
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        label=gettext_lazy("Amount (EUR)"),
        required=False,
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
    )

    def clean(self):
        data = super().clean()
        if data.get("price") == "amount" and data.get("amount") is None:
            self.add_error("amount", _("Type the amount, or choose the price list."))
        return data


def intervention_view(request, admin_site):
    if not request.user.has_perm("billing.view_ledgerevent"):
        raise PermissionDenied
    prices = price_list_on(timezone.localdate())
    form = InterventionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                event = charge_intervention(
                    kind=LedgerEvent.Intervention.OTHER,
                    actor=request.user,
                    domain=data["domain"],
                    description=data["description"],
                    amount=data["amount"] if data["price"] == "amount" else None,
                )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Intervention recorded for %(domain)s: %(amount)s EUR.")
                % {"domain": event.domain_name, "amount": event.one_off_amount},
            )
            return redirect("admin:billing_ledgerevent_changelist")
    context = {
        **admin_site.each_context(request),
        "title": _("Record an extraordinary intervention"),
        "form": form,
        "list_price": prices.intervention if prices else None,
        "opts": LedgerEvent._meta,
    }
    return TemplateResponse(
        request, "backoffice/intervention_form.html", context, status=400 if form.errors else 200
    )
