/**
 * Text from sources anyone controls (DNS answers) shown so that what is there is what is seen:
 * control, format (zero-width, bidi) and non-ASCII space characters are shown as `\u{200E}`-style
 * codes instead of acting on the page's text, and long values are cut, saying how long they are.
 */

/** Characters escaped: controls (Cc), formats (Cf: zero-width, bidi marks and overrides), separators other than " ". */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}\\]/gu;

/** `value` with every hidden or ambiguous character as a visible code (a backslash is doubled). */
export function escapeInvisible(value: string): string {
  return value.replace(HIDDEN, (ch) => {
    if (ch === " ") return " ";
    if (ch === "\\") return "\\\\";
    return `\\u{${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}}`;
  });
}

/** The most characters of a value shown; the rest is cut (the full length is stated). */
export const SHOWN_CHARS = 200;

/** `value` escaped and cut to `max` characters (code points), and its full length when cut. */
export function visibleValue(value: string, max = SHOWN_CHARS): { text: string; cut: number | null } {
  const chars = Array.from(value);
  if (chars.length <= max) return { text: escapeInvisible(value), cut: null };
  return { text: `${escapeInvisible(chars.slice(0, max).join(""))}…`, cut: chars.length };
}

/** The White_Space characters Rust's `str::trim` strips (JavaScript's `trim` differs: U+FEFF, U+0085). */
const WS = "\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
const EDGES = new RegExp(`^[${WS}]+|[${WS}]+$`, "gu");

/** `value` trimmed as the API trims a seen TXT value before comparing it with the expected one. */
export function serverTrim(value: string): string {
  return value.replace(EDGES, "");
}
