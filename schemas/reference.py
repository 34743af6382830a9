"""The message catalogue of `docs/protocol.md`, rendered from the AsyncAPI document.

Everything between the two markers in `docs/protocol.md` is this module's output:
one table per message (every payload field with its type, bounds and whether it
is required), then the nested objects and the enumerations. `python -m
schemas.generate` rewrites it, and a test fails when the committed page drifts,
so the prose reference and the generated AsyncAPI cannot disagree.
"""

from __future__ import annotations

from typing import Any

from schemas.api_docs import asyncapi_document

__all__ = ["BEGIN_MARKER", "END_MARKER", "render_message_catalogue", "splice"]

BEGIN_MARKER = "<!-- BEGIN GENERATED: message catalogue (python -m schemas.generate) -->"
END_MARKER = "<!-- END GENERATED: message catalogue -->"

_BOUNDS = (
    ("minimum", "≥"),
    ("exclusiveMinimum", ">"),
    ("maximum", "≤"),
    ("exclusiveMaximum", "<"),
)


class _Renderer:
    def __init__(self, document: dict[str, Any]) -> None:
        self.components: dict[str, Any] = document["components"]["schemas"]
        self.objects: list[str] = []  # nested object components, in order of first use
        self.enums: list[str] = []  # enum components, in order of first use

    def _name(self, ref: str) -> str:
        return ref.rsplit("/", 1)[-1]

    def type_of(self, schema: dict[str, Any]) -> str:
        if "$ref" in schema:
            name = self._name(schema["$ref"])
            target = self.components[name]
            seen = self.enums if "enum" in target else self.objects
            if name not in seen:
                seen.append(name)
            return f"[{name}](#{name.lower()})"
        if "anyOf" in schema:
            options = [o for o in schema["anyOf"] if o.get("type") != "null"]
            text = " or ".join(self.type_of(o) for o in options)
            return text + (" or null" if len(options) < len(schema["anyOf"]) else "")
        if "const" in schema:
            return f"`{schema['const']}`"
        kind = str(schema.get("type", "any"))
        if kind == "array":
            text = f"array of {self.type_of(schema.get('items', {}))}"
            if "maxItems" in schema:
                text += f" (at most {schema['maxItems']})"
            return text
        if kind == "object" and "additionalProperties" in schema:
            return f"object of {self.type_of(schema['additionalProperties'])}"
        bounds = [f"{sign} {schema[key]}" for key, sign in _BOUNDS if key in schema]
        if "minLength" in schema or "maxLength" in schema:
            low, high = schema.get("minLength", 0), schema.get("maxLength", "any")
            bounds.append(f"{low} to {high} chars")
        if "pattern" in schema:
            bounds.append(f"pattern `{schema['pattern']}`")
        return kind + (f" ({', '.join(bounds)})" if bounds else "")

    def table(self, schema: dict[str, Any]) -> list[str]:
        required = set(schema.get("required", ()))
        rows = ["| field | type | required |", "|---|---|---|"]
        for name, prop in schema.get("properties", {}).items():
            need = "yes" if name in required else "no"
            if "default" in prop and prop["default"] is not None:
                need += f" (default `{prop['default']}`)"
            rows.append(f"| `{name}` | {self.type_of(prop)} | {need} |")
        return rows


def _direction(document: dict[str, Any], message: str) -> str:
    sent = {m["$ref"].rsplit("/", 1)[-1] for m in document["operations"]["sendFromEA"]["messages"]}
    received = {
        m["$ref"].rsplit("/", 1)[-1]
        for m in document["operations"]["receiveFromServer"]["messages"]
    }
    if message in sent and message in received:
        return "Both directions"
    return "EA → server" if message in sent else "server → EA"


def render_message_catalogue() -> str:
    """The generated part of `docs/protocol.md` (without the markers)."""
    document = asyncapi_document()
    renderer = _Renderer(document)
    lines: list[str] = []
    for name in document["components"]["messages"]:
        envelope = renderer.components[name]
        wire_type = envelope["properties"]["type"]["const"]
        payload = renderer._name(envelope["properties"]["payload"]["$ref"])
        payload_schema = renderer.components[payload]
        lines += [
            f"### {name}",
            "",
            f"{_direction(document, name)}; envelope `type` = `{wire_type}`. "
            f"{payload_schema.get('description', '')}".rstrip(),
            "",
            *renderer.table(payload_schema),
            "",
        ]
    lines += ["### Nested objects", ""]
    done: set[str] = set()
    while len(done) < len(renderer.objects):
        name = next(n for n in renderer.objects if n not in done)
        done.add(name)
        schema = renderer.components[name]
        description = schema.get("description", "")
        lines += [f"#### {name}", "", description, "", *renderer.table(schema), ""]
    lines += ["### Enumerations", "", "| enumeration | values |", "|---|---|"]
    for name in sorted(renderer.enums):
        values = ", ".join(f"`{v}`" for v in renderer.components[name]["enum"])
        lines.append(f'| <a id="{name.lower()}"></a>{name} | {values} |')
    return "\n".join(lines).rstrip() + "\n"


def splice(page: str, generated: str) -> str:
    """`page` with the text between the markers replaced by `generated`."""
    head, found, rest = page.partition(BEGIN_MARKER)
    _, found_end, tail = rest.partition(END_MARKER)
    if not (found and found_end):
        raise ValueError("docs/protocol.md lost its generated-catalogue markers")
    return f"{head}{BEGIN_MARKER}\n\n{generated}\n{END_MARKER}{tail}"
