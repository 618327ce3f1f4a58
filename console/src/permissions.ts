/** Permission maps as the console reads and edits them. */
import {
  ACTIONS,
  RESOURCES,
  type Action,
  type Permissions,
  type Resource,
} from "../../clients/typescript/src/index";

export { ACTIONS, RESOURCES, type Action, type Permissions, type Resource };

/** Reads an API permission map (whose keys the generated type leaves open) as a typed one. */
export function asPermissions(map: Record<string, readonly string[] | undefined>): Permissions {
  const out: Permissions = {};
  for (const resource of RESOURCES) {
    const actions = ACTIONS.filter((a) => map[resource]?.includes(a));
    if (actions.length > 0) out[resource] = actions;
  }
  return out;
}

export function holds(permissions: Permissions, resource: Resource, action: Action): boolean {
  return permissions[resource]?.includes(action) ?? false;
}

export function withPermission(
  permissions: Permissions,
  resource: Resource,
  action: Action,
  granted: boolean,
): Permissions {
  const current = new Set(permissions[resource] ?? []);
  if (granted) current.add(action);
  else current.delete(action);
  const next: Permissions = { ...permissions };
  const actions = ACTIONS.filter((a) => current.has(a));
  if (actions.length > 0) next[resource] = actions;
  else delete next[resource];
  return next;
}

/** Only what `offered` holds: what a key may hand on without escalating. */
export function within(permissions: Permissions, offered: Permissions): Permissions {
  const out: Permissions = {};
  for (const resource of RESOURCES) {
    const actions = (permissions[resource] ?? []).filter((a) => holds(offered, resource, a));
    if (actions.length > 0) out[resource] = actions;
  }
  return out;
}

export function names(permissions: Permissions): string[] {
  return RESOURCES.flatMap((r) => (permissions[r] ?? []).map((a) => `${r}:${a}`));
}

export function samePermissions(a: Permissions, b: Permissions): boolean {
  return names(a).join(",") === names(b).join(",");
}

/** `sandboxes: create, read · shortLinks: read`, or `all (36)` for a full map. */
export function summary(permissions: Permissions): string {
  const granted = names(permissions);
  if (granted.length === RESOURCES.length * ACTIONS.length) return `all (${granted.length})`;
  if (granted.length === 0) return "none";
  return RESOURCES.filter((r) => permissions[r]?.length)
    .map((r) => `${r}: ${(permissions[r] ?? []).join(", ")}`)
    .join(" · ");
}
