"""OpenAPI documents: paths written by hand next to each service, schemas from code.

The request and response bodies come from the marshmallow schemas the service validates
with, so the document cannot drift from what the service accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

OPERATIONS_FILE = Path(__file__).with_name("openapi-operations.yaml")


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields", keys=fields.String(), values=fields.List(fields.String())
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def build_spec(
    title: str, paths_file: Path, schemas: Mapping[str, type[Schema] | Schema]
) -> dict[str, Any]:
    spec = APISpec(
        title=title,
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Loket service desk; see ARCHITECTURE.md for the contract."},
    )
    spec.components.schema("Error", schema=ErrorSchema)
    for name, schema in schemas.items():
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme(
        "bearer",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "API key. With the portal's key (role `portal`), the header "
            "`X-Loket-On-Behalf-Of: <person>` names the signed-in person the call is for: "
            "that person's role (from the accounts file) is checked and the person is "
            "recorded. The header from any other key, or naming a person unknown or "
            "disabled, is refused with 403.",
        },
    )
    documents = [
        yaml.safe_load(OPERATIONS_FILE.read_text()),
        yaml.safe_load(paths_file.read_text()),
    ]
    for document in documents:
        for name, response in document.get("responses", {}).items():
            spec.components.response(name, response)
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                # Any request may carry what no database stores (a NUL character), and
                # any may meet a database that is restarting.
                for status, name in (("422", "ValidationFailed"), ("503", "Unavailable")):
                    operation["responses"].setdefault(status, name)
                if "requestBody" in operation:
                    # A body is read only in the media type it is documented in, whole, and
                    # no deeper than the services read JSON.
                    for status, name in (
                        ("400", "BadRequest"),
                        ("413", "PayloadTooLarge"),
                        ("415", "UnsupportedMediaType"),
                    ):
                        operation["responses"].setdefault(status, name)
            spec.path(path=path, operations=operations)
    return spec.to_dict()
