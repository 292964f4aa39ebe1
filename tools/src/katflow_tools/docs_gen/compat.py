"""Whether a schema change would break existing subscribers: a walk over two JSON Schemas."""

from __future__ import annotations

from .common import Json

_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "deprecated", "$id", "$schema", "$comment", "x-katflow"}
)
_STRUCTURE = frozenset({"$ref", "$defs", "properties", "required", "anyOf", "oneOf", "allOf", "items"})


class _Comparison:
    """Walks an old and a new schema side by side and lists what would break existing subscribers."""

    def __init__(self, old: Json, new: Json) -> None:
        self.old_defs: Json = old.get("$defs", {})
        self.new_defs: Json = new.get("$defs", {})
        self.problems: list[str] = []
        self._visiting: set[tuple[str, str, str]] = set()

    @staticmethod
    def _resolve(node: Json, defs: Json) -> tuple[Json, str]:
        ref = ""
        while "$ref" in node:
            ref = str(node["$ref"])
            target = defs.get(ref.rsplit("/", 1)[-1])
            if target is None:
                raise ValueError(f"unresolvable $ref {ref}")
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node, ref

    def _describe(self, node: Json, defs: Json) -> str:
        resolved, ref = self._resolve(node, defs)
        for key in ("anyOf", "oneOf", "allOf"):
            if key in resolved:
                return " | ".join(self._describe(branch, defs) for branch in resolved[key])
        text = str(resolved.get("type", "any"))
        if "format" in resolved:
            text += f"({resolved['format']})"
        if "enum" in resolved:
            text += "{" + ",".join(map(str, resolved["enum"])) + "}"
        return (ref.rsplit("/", 1)[-1] + ":" if ref else "") + text

    def _branch_key(self, node: Json, defs: Json) -> str:
        resolved, _ = self._resolve(node, defs)
        return str(resolved.get("type", "object" if "properties" in resolved else "any"))

    def compare(self, old: Json, new: Json, path: str) -> None:
        old_r, old_ref = self._resolve(old, self.old_defs)
        new_r, new_ref = self._resolve(new, self.new_defs)
        visit = (path, old_ref, new_ref)
        if old_ref and new_ref and visit in self._visiting:
            return
        self._visiting.add(visit)
        changed_type = (
            f"{path}: type changed from {self._describe(old, self.old_defs)} "
            f"to {self._describe(new, self.new_defs)}"
        )
        for key in sorted((set(old_r) | set(new_r)) - _ANNOTATIONS - _STRUCTURE):
            before, after = old_r.get(key), new_r.get(key)
            if isinstance(before, dict) and isinstance(after, dict):
                self.compare(before, after, f"{path}.<{key}>")
            elif before != after:
                if key in ("type", "format", "enum", "const"):
                    self.problems.append(changed_type)
                else:
                    self.problems.append(f"{path}: '{key}' changed from {before!r} to {after!r}")
        for key in ("anyOf", "oneOf", "allOf"):
            before_list, after_list = old_r.get(key), new_r.get(key)
            if before_list is None and after_list is None:
                continue
            if before_list is None or after_list is None or len(before_list) != len(after_list):
                self.problems.append(changed_type)
                continue
            olds = sorted(before_list, key=lambda n: self._branch_key(n, self.old_defs))
            news = sorted(after_list, key=lambda n: self._branch_key(n, self.new_defs))
            for o, n in zip(olds, news, strict=True):
                label = (
                    str(o["$ref"]).rsplit("/", 1)[-1] if "$ref" in o else self._branch_key(o, self.old_defs)
                )
                self.compare(o, n, f"{path}<{label}>")
        if ("items" in old_r) != ("items" in new_r):
            self.problems.append(changed_type)
        elif "items" in old_r:
            self.compare(old_r["items"], new_r["items"], f"{path}[]")
        if ("properties" in old_r) != ("properties" in new_r):
            self.problems.append(changed_type)
        elif "properties" in old_r:
            self._compare_object(old_r, new_r, path)
        self._visiting.discard(visit)

    def _compare_object(self, old: Json, new: Json, path: str) -> None:
        old_props: Json = old["properties"]
        new_props: Json = new["properties"]
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        prefix = f"{path}." if path else ""
        for name, schema in old_props.items():
            if name not in new_props:
                self.problems.append(f"{prefix}{name}: field removed or renamed")
                continue
            if name in new_required and name not in old_required:
                self.problems.append(f"{prefix}{name}: optional field became required")
            self.compare(schema, new_props[name], f"{prefix}{name}")
        for name in new_props:
            if name not in old_props and name in new_required:
                self.problems.append(f"{prefix}{name}: new required field (give it a default)")


def breaking_changes(old: Json, new: Json) -> list[str]:
    """What in ``new`` would break subscribers written against ``old`` (empty: compatible).

    Breaking: a field removed or renamed, a field's type, format, enum values or constraints changed
    (``$ref`` targets and ``anyOf`` branches are followed), a new field without a default, an optional
    field made required, another topic, key or restriction. Compatible: a new field with a default,
    changed titles and descriptions.
    """
    comparison = _Comparison(old, new)
    before, after = old.get("x-katflow", {}), new.get("x-katflow", {})
    for key in ("type", "topic", "key", "key_fallback", "restricted"):
        if before.get(key) != after.get(key):
            comparison.problems.append(
                f"x-katflow: {key} changed from {before.get(key)!r} to {after.get(key)!r}"
            )
    comparison.compare(old, new, "")
    return comparison.problems
