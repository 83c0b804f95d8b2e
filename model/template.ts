// Key templates: `USER#{user_id}`, `ORDER#{display_order:4}#{category}`.
// A `{name}` is filled with the value's key text; `{name:W}` zero-pads a whole
// number to W digits so that text order is numeric order.

export interface CompiledTemplate {
  text: string;
  names: string[];
  /** The text before the first value (`DEVICE#` of `DEVICE#{id}`; all of `PROFILE`): what a begins_with query can name. */
  lead: string;
  /** The key, or a reason (with the offending name) when a part is NULL, empty or unpaddable. */
  render(value: (name: string) => string | null): { key: string } | { name: string; reason: string };
}

type Segment = string | { name: string; width?: number };

export function compileTemplate(text: string): CompiledTemplate {
  const segments: Segment[] = [];
  const pattern = /\{([A-Za-z_][A-Za-z0-9_]*)(?::(\d+))?\}/g;
  let last = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    if (m.index > last) segments.push(text.slice(last, m.index));
    segments.push({ name: m[1]!, ...(m[2] ? { width: Number(m[2]) } : {}) });
    last = m.index + m[0].length;
  }
  if (last < text.length) segments.push(text.slice(last));
  if (segments.some((s) => typeof s === 'string' && /[{}]/.test(s))) throw new Error(`malformed key template ${JSON.stringify(text)}`);
  const names = segments.flatMap((s) => (typeof s === 'string' ? [] : [s.name]));
  return {
    text,
    names,
    lead: typeof segments[0] === 'string' ? segments[0] : '',
    render(value) {
      let key = '';
      for (const segment of segments) {
        if (typeof segment === 'string') { key += segment; continue; }
        const v = value(segment.name);
        if (v === null) return { name: segment.name, reason: `${segment.name} is NULL` };
        if (v === '') return { name: segment.name, reason: `${segment.name} is empty` };
        if (segment.width !== undefined) {
          if (!/^\d+$/.test(v) || v.length > segment.width) {
            return { name: segment.name, reason: `${segment.name} is not a whole number of at most ${segment.width} digits` };
          }
          key += v.padStart(segment.width, '0');
        } else {
          key += v;
        }
      }
      return { key };
    },
  };
}

/**
 * A table's label in generic keys (`--unmapped generic`, make scaffold):
 * `users` → `USERS`, `audit.events` → `AUDIT.EVENTS`. Lowercase letters are
 * upper-cased; digits, `_` and the schema's `.` stay; every other character
 * (an uppercase letter, `-`, a space, `%`, any other script) is its UTF-8
 * bytes as `%XX`, so no two tables share a label (`Users` is `%55SERS`, not
 * `users`'s `USERS`; `a-b` is `A%2DB`, not `a_b`'s `A_B`).
 */
export function tableKeyLabel(name: string): string {
  let label = '';
  for (const char of name) {
    if (/[a-z]/.test(char)) label += char.toUpperCase();
    else if (/[0-9_.]/.test(char)) label += char;
    else for (const byte of Buffer.from(char, 'utf8')) label += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return label;
}
