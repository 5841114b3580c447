#!/usr/bin/env python3
"""Re-renders tests/data/jinja_vs_jinja2.jsonl with Jinja2 (Debian python3-jinja2) set up as
transformers' apply_chat_template sets it up, so that test_jinja checks flops's interpreter against
the real one. Each line: {"t": template, "v": variables, then "expected": output, or "error":
Python exception class, or "syntax": true}. Usage: scripts/jinja_vectors.py [FILE]"""
import json, sys
import jinja2, jinja2.ext, jinja2.sandbox

path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/jinja_vs_jinja2.jsonl"
env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                   extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: \
    json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
def raise_exception(msg):
    raise jinja2.exceptions.TemplateError(msg)
env.globals["raise_exception"] = raise_exception

out = []
for line in open(path, encoding="utf-8"):
    if not line.strip():
        continue
    c = json.loads(line)
    case = {"t": c["t"], "v": c["v"]}
    try:
        case["expected"] = env.from_string(c["t"]).render(**c["v"])
    except jinja2.exceptions.TemplateSyntaxError:
        case["syntax"] = True
    except Exception as e:
        case["error"] = type(e).__name__
    out.append(json.dumps(case, ensure_ascii=False))
open(path, "w", encoding="utf-8").write("\n".join(out) + "\n")
print(f"{len(out)} cases written to {path} (Jinja2 {jinja2.__version__})")
