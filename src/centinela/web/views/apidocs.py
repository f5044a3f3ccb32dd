"""The API reference page: the app's own OpenAPI schema as a server-rendered page.

Centinela runs on government networks without Internet, so the reference can't load Swagger UI
from a CDN: this page lists every operation (method, path, what it does, its parameters, body
and responses) and every schema (its fields and their types) from ``app.openapi()``, with no
script and nothing from outside. The schema itself stays at ``/api/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


class TypePart(BaseModel):
    text: str
    ref: str | None = None  # a schema's name: the page links to its section


class ApiField(BaseModel):
    name: str
    location: str = ""  # a parameter's place: path, query, header or cookie
    type: list[TypePart]
    required: bool
    description: str = ""


class ApiResponse(BaseModel):
    status: str
    description: str
    type: list[TypePart]


class ApiOperation(BaseModel):
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    parameters: list[ApiField]
    body: list[TypePart]  # empty: no request body
    body_media: str = ""
    body_required: bool = False
    responses: list[ApiResponse]


class ApiTag(BaseModel):
    name: str  # "" for operations without a tag
    operations: list[ApiOperation]


class ApiSchema(BaseModel):
    name: str
    description: str
    fields: list[ApiField]
    values: list[str]  # an enumeration's values


class ApiReference(BaseModel):
    title: str
    version: str
    operations: int
    tags: list[ApiTag]
    schemas: list[ApiSchema]


def _text(*parts: Any) -> list[TypePart]:
    return [TypePart(text=str(p)) for p in parts]


def type_of(schema: dict[str, Any] | None) -> list[TypePart]:
    """Return a JSON schema's type as text parts (``list[AlertRow]``, ``string | null``), the
    referenced schemas' names marked so the page can link them."""
    if not schema:
        return _text("any")
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(REF_PREFIX)
        return [TypePart(text=name, ref=name)]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            out: list[TypePart] = []
            for i, option in enumerate(schema[key]):
                if i:
                    out.extend(_text(" | " if key != "allOf" else " & "))
                out.extend(type_of(option))
            return out
    kind = schema.get("type")
    if isinstance(kind, list):
        return _text(" | ".join(str(k) for k in kind))
    if kind == "array":
        return [*_text("list["), *type_of(schema.get("items")), *_text("]")]
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return [*_text("dict[string, "), *type_of(schema["additionalProperties"]), *_text("]")]
    text = str(kind or "object")
    if schema.get("format"):
        text += f" ({schema['format']})"
    if "enum" in schema:
        text += ": " + " | ".join(str(v) for v in schema["enum"])
    elif "const" in schema:
        text += f": {schema['const']}"
    return _text(text)


def _limits(schema: dict[str, Any]) -> str:
    """Bounds worth knowing (lengths, ranges, a default) in the schema's own terms."""
    said = []
    for key, sign in (("minLength", "≥"), ("maxLength", "≤"), ("minimum", "≥"), ("maximum", "≤"),
                      ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):
        if key in schema:
            said.append(f"{key} {sign} {schema[key]}")
    if "default" in schema and schema["default"] not in (None, ""):
        said.append(f"default: {schema['default']}")
    return "; ".join(said)


def _field(name: str, schema: dict[str, Any], required: bool, location: str = "") -> ApiField:
    description = str(schema.get("description") or "")
    limits = _limits(schema)
    return ApiField(name=name, location=location, type=type_of(schema), required=required,
                    description=" — ".join(x for x in (description, limits) if x))


def _param(param: dict[str, Any]) -> ApiField:
    """A parameter; its own description, else its schema's."""
    schema = dict(param.get("schema") or {})
    if param.get("description"):
        schema["description"] = param["description"]
    return _field(str(param.get("name")), schema, bool(param.get("required")),
                  str(param.get("in") or ""))


def _body(op: dict[str, Any]) -> tuple[list[TypePart], str, bool]:
    body = op.get("requestBody") or {}
    content = body.get("content") or {}
    for media, spec in content.items():
        return type_of(spec.get("schema")), str(media), bool(body.get("required"))
    return [], "", False


def _responses(op: dict[str, Any]) -> list[ApiResponse]:
    out = []
    for status, spec in sorted((op.get("responses") or {}).items()):
        content = spec.get("content") or {}
        schema = next((c.get("schema") for c in content.values()), None)
        out.append(ApiResponse(status=str(status), description=str(spec.get("description") or ""),
                               type=type_of(schema) if schema else []))
    return out


def _anchor(method: str, path: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in path).strip("-")
    return f"op-{method}-{slug}"


def build_reference(openapi: dict[str, Any]) -> ApiReference:
    """Return the reference of an OpenAPI document: operations by tag, then every schema."""
    by_tag: dict[str, list[ApiOperation]] = {}
    count = 0
    for path, item in (openapi.get("paths") or {}).items():
        shared = item.get("parameters") or []
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            count += 1
            params = [_param(p) for p in [*shared, *(op.get("parameters") or [])]]
            body, media, required = _body(op)
            description = str(op.get("description") or "").strip()
            by_tag.setdefault(str((op.get("tags") or [""])[0]), []).append(ApiOperation(
                anchor=_anchor(method, path), method=method.upper(), path=path,
                summary=str(op.get("summary") or ""), description=description,
                parameters=params, body=body, body_media=media, body_required=required,
                responses=_responses(op)))
    schemas = []
    for name, schema in sorted((openapi.get("components") or {}).get("schemas", {}).items()):
        needed = set(schema.get("required") or [])
        schemas.append(ApiSchema(
            name=name, description=str(schema.get("description") or ""),
            fields=[_field(k, v, k in needed) for k, v in (schema.get("properties") or {}).items()],
            values=[str(v) for v in schema.get("enum") or []]))
    info = openapi.get("info") or {}
    return ApiReference(
        title=str(info.get("title") or "API"), version=str(info.get("version") or ""),
        operations=count, tags=[ApiTag(name=t, operations=ops)
              for t, ops in sorted(by_tag.items(), key=lambda kv: (kv[0] == "", kv[0]))],
        schemas=schemas)
