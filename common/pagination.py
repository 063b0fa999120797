"""Pagination used by every list endpoint."""

from rest_framework.pagination import PageNumberPagination

from common.exceptions import ValidationFailed


class DefaultPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        """`?page_size=` must be a whole number from 1 to `max_page_size`: a wrong one is a
        400, not silently the default."""
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        for raw in values:
            if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
                raise ValidationFailed(
                    f"page_size must be a whole number from 1 to {self.max_page_size}.",
                    field=self.page_size_query_param,
                )
        return int(values[-1])

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            schema = parameter.setdefault("schema", {})
            schema["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                schema["maximum"] = self.max_page_size
        return parameters
