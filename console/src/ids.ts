/**
 * The shapes of the resource ids, as openapi.yaml gives them. An id read from the address is
 * checked against its shape before any request: a path such as `..` must never reach a URL.
 */
export const ID_PATTERNS = {
  key: /^[A-Za-z0-9]{12}$/,
  sandbox: /^sbx_[A-Za-z0-9]{1,40}$/,
  link: /^lnk_[A-Za-z0-9]{20}$/,
  domain: /^dom_[A-Za-z0-9]{20}$/,
  webhook: /^whk_[A-Za-z0-9]{20}$/,
  file: /^fil_[A-Za-z0-9]{24}$/,
  delivery: /^dlv_[0-9a-f]{32}$/,
} as const;

export type IdKind = keyof typeof ID_PATTERNS;

export function isId(kind: IdKind, value: string | undefined): value is string {
  return value !== undefined && ID_PATTERNS[kind].test(value);
}
