#!/usr/bin/env python3
"""Extract from Microsoft Graph's v1.0 CSDL the types the project uses.

    python3 emulator/csdl_extract.py CSDL.xml [OUT.json [OUT.lua]]

CSDL.xml is Graph's published schema (msgraph-metadata, clean_v10_metadata/
cleanMetadata.xml).  It is read as a stream (iterparse): only type
definitions are kept.  Writes, by default beside this script:

- graph-v1.0-extract.json: for each entity and complex type below and every
  complex or enum type they reference, its properties (inherited ones
  included, base first) with their EDM type and nullability, its base type,
  and each enum type's members in schema order.  emulator/schema.py loads it.
- ../lua/graph/schema.lua: the user properties' EDM types, for the CLI
  (`msgraph users update key=value` takes each value's type from it).

Python 3 standard library only; the same input always gives the same output.
"""

import json
import os
import sys
import xml.etree.ElementTree as ET

EDM_NS = "{http://docs.oasis-open.org/odata/ns/edm}"

# What the emulator serves (and the evidence subtypes its alerts carry).
ROOTS = [
    "microsoft.graph.user", "microsoft.graph.presence", "microsoft.graph.group",
    "microsoft.graph.directoryRole", "microsoft.graph.administrativeUnit",
    "microsoft.graph.subscribedSku", "microsoft.graph.security.alert",
    "microsoft.graph.security.userEvidence", "microsoft.graph.security.deviceEvidence",
    "microsoft.graph.security.ipEvidence",
]


def read_types(path):
    """{qualified name: raw definition} and {alias: namespace}, streaming."""
    types, aliases, namespace = {}, {}, None
    for event, elem in ET.iterparse(path, events=("start", "end")):
        tag = elem.tag[len(EDM_NS):] if elem.tag.startswith(EDM_NS) else None
        if event == "start":
            if tag == "Schema":
                namespace = elem.get("Namespace")
                if elem.get("Alias"):
                    aliases[elem.get("Alias")] = namespace
            continue
        if tag in ("EntityType", "ComplexType"):
            props = [{"name": p.get("Name"), "type": p.get("Type"),
                      "nullable": p.get("Nullable", "true") != "false"}
                     for p in elem.findall(EDM_NS + "Property")]
            types[namespace + "." + elem.get("Name")] = {
                "kind": tag, "baseType": elem.get("BaseType"), "properties": props,
                "openType": elem.get("OpenType") == "true",
                "abstract": elem.get("Abstract") == "true"}
            elem.clear()
        elif tag == "EnumType":
            types[namespace + "." + elem.get("Name")] = {
                "kind": "EnumType",
                "members": [m.get("Name") for m in elem.findall(EDM_NS + "Member")],
                "isFlags": elem.get("IsFlags") == "true"}
            elem.clear()
        elif tag in ("Action", "Function", "EntityContainer", "Term", "Annotations"):
            elem.clear()
    return types, aliases


def qualify(name, aliases):
    """'graph.x' / 'Collection(self.y)' with aliases spelled out; Edm types as they are."""
    if name is None:
        return None
    if name.startswith("Collection(") and name.endswith(")"):
        return "Collection(%s)" % qualify(name[len("Collection("):-1], aliases)
    head, dot, rest = name.partition(".")
    if dot and head in aliases:
        return aliases[head] + "." + rest
    return name


def element_type(type_name):
    if type_name.startswith("Collection("):
        return type_name[len("Collection("):-1]
    return type_name


def extract(types, aliases):
    entity, complex_, enums = {}, {}, {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop(0)
        if name in entity or name in complex_ or name in enums or name.startswith("Edm."):
            continue
        raw = types.get(name)
        if raw is None:
            raise SystemExit("csdl_extract: type %s is not in the CSDL" % name)
        if raw["kind"] == "EnumType":
            enums[name] = {"members": raw["members"], "isFlags": raw["isFlags"]}
            continue
        chain, cur = [], name
        while cur is not None:                  # base first: directoryObject before user
            chain.insert(0, cur)
            cur = qualify(types[cur]["baseType"], aliases)
        properties = {}
        for link in chain:
            for p in types[link]["properties"]:
                t = qualify(p["type"], aliases)
                properties[p["name"]] = {"type": t, "nullable": p["nullable"]}
                pending.append(element_type(t))
        out = {"baseType": qualify(raw["baseType"], aliases), "properties": properties}
        if raw["openType"]:
            out["openType"] = True
        if raw["abstract"]:
            out["abstract"] = True
        (entity if raw["kind"] == "EntityType" else complex_)[name] = out
        if out["baseType"]:
            pending.append(out["baseType"])
    sort = lambda d: {k: d[k] for k in sorted(d)}
    return {"source": "Microsoft Graph v1.0 CSDL (msgraph-metadata clean_v10_metadata/"
                      "cleanMetadata.xml), extracted by emulator/csdl_extract.py",
            "roots": ROOTS, "entityTypes": sort(entity), "complexTypes": sort(complex_),
            "enumTypes": sort(enums)}


def lua_module(extract_doc):
    user = extract_doc["entityTypes"]["microsoft.graph.user"]["properties"]
    lines = ["-- Generated by emulator/csdl_extract.py from Graph's v1.0 CSDL: do not edit.",
             "--- graph.schema: EDM types of the user properties (`msgraph users update`).",
             "return {", "  user = {"]
    for name in sorted(user):
        lines.append('    %s = "%s",' % (name, user[name]["type"]))
    lines += ["  },", "}", ""]
    return "\n".join(lines)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    out_json = argv[2] if len(argv) > 2 else os.path.join(here, "graph-v1.0-extract.json")
    out_lua = argv[3] if len(argv) > 3 else os.path.join(here, "..", "lua", "graph", "schema.lua")
    types, aliases = read_types(argv[1])
    doc = extract(types, aliases)
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(out_lua, "w", encoding="utf-8") as f:
        f.write(lua_module(doc))
    print("csdl_extract: %d entity, %d complex, %d enum types -> %s"
          % (len(doc["entityTypes"]), len(doc["complexTypes"]), len(doc["enumTypes"]), out_json))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
