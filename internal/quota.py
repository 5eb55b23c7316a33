"""Internal endpoints Dovecot calls (loopback only, X-API-Key = settings.INTERNAL_API_TOKEN)."""

import json

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.internal_endpoints import internal_caller_allowed
from domains.services.quota_warnings import quota_warning_record


@csrf_exempt
@require_POST
def quota_warning(request: HttpRequest) -> JsonResponse:
    """Dovecot's quota-warning script: {"user": "<address>", "level": <percent, 0 = below>}."""
    if not internal_caller_allowed(request):
        return JsonResponse({"error": "forbidden"}, status=403)
    try:
        payload = json.loads(request.body)
        user, level = str(payload["user"]), int(payload["level"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "bad request"}, status=400)
    try:
        sent = quota_warning_record(username=user, level=level)
    except ValidationError:
        return JsonResponse({"error": "bad request"}, status=400)
    return JsonResponse({"sent": sent})
