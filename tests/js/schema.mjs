// A validator for the JSON Schema subset the server enforces (type, properties, required, enum,
// const, items, additionalProperties, min/maxItems, min/maxLength): an independent check of its output.
export function validate(s, v, at = '$') {
  if (s === true) return null;
  if (s.const !== undefined && JSON.stringify(s.const) !== JSON.stringify(v)) return `${at}: not the const`;
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) return `${at}: not in enum`;
  const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const ok = types.some((t) => t === kind || (t === 'integer' && Number.isInteger(v)) || (t === 'number' && kind === 'number'));
    if (!ok) return `${at}: ${kind} is not ${types.join('|')}`;
  }
  if (kind === 'object') {
    for (const r of s.required || []) if (!(r in v)) return `${at}: missing ${r}`;
    for (const [k, x] of Object.entries(v)) {
      const sub = s.properties && s.properties[k] !== undefined ? s.properties[k] : s.additionalProperties;
      if (sub === false) return `${at}: unexpected ${k}`;
      if (sub && sub !== true) { const e = validate(sub, x, `${at}.${k}`); if (e) return e; }
    }
  }
  if (kind === 'array') {
    if (s.minItems !== undefined && v.length < s.minItems) return `${at}: too few items`;
    if (s.maxItems !== undefined && v.length > s.maxItems) return `${at}: too many items`;
    if (s.items) for (let i = 0; i < v.length; i++) { const e = validate(s.items, v[i], `${at}[${i}]`); if (e) return e; }
  }
  if (kind === 'string') {
    const n = [...v].length;
    if (s.minLength !== undefined && n < s.minLength) return `${at}: too short`;
    if (s.maxLength !== undefined && n > s.maxLength) return `${at}: too long`;
  }
  return null;
}
