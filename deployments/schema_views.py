"""`/schemas/<name>.json`: the JSON Schemas of the `.draftforge/` files, public and cacheable,
so an author's editor or CI job can validate their repository without Holdfast."""

import json

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from . import draftforge


@require_GET
def schema_file(request, name: str):
    try:
        document = draftforge.schema(name)
    except KeyError:
        raise Http404("No such schema.")
    response = HttpResponse(json.dumps(document, indent=2), content_type="application/schema+json")
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response
