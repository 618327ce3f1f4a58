/**
 * The resource × action grid. It offers only what `offered` holds (the signed-in key's own
 * permissions): the server refuses escalation anyway, and the console must not suggest it.
 */
import { ACTIONS, RESOURCES, holds, names, withPermission, type Permissions } from "../permissions";

interface Props {
  legend: string;
  offered: Permissions;
  value: Permissions;
  onChange: (next: Permissions) => void;
  /** Prefix of the checkbox ids, unique on the page. */
  idPrefix?: string;
  disabled?: boolean;
}

export function PermissionGrid({
  legend,
  offered,
  value,
  onChange,
  idPrefix = "perm",
  disabled = false,
}: Props) {
  const resources = RESOURCES.filter((r) => (offered[r]?.length ?? 0) > 0);
  const beyond = names(value).filter((name) => {
    const [resource, action] = name.split(":");
    return !resources.some((r) => r === resource && offered[r]?.some((a) => a === action));
  });
  return (
    <fieldset class="perm-grid" data-testid="permission-grid">
      <legend>{legend}</legend>
      {resources.length === 0 ? <p class="muted">Your key holds no permission to hand on.</p> : null}
      <div class="perm-resources">
        {resources.map((resource) => (
          <fieldset key={resource} class="perm-resource">
            <legend>{resource}</legend>
            {ACTIONS.filter((action) => holds(offered, resource, action)).map((action) => {
              const id = `${idPrefix}-${resource}-${action}`;
              return (
                <div class="check" key={action}>
                  <input
                    type="checkbox"
                    id={id}
                    data-testid={`perm-${resource}-${action}`}
                    checked={holds(value, resource, action)}
                    disabled={disabled}
                    onChange={(e) =>
                      onChange(withPermission(value, resource, action, e.currentTarget.checked))
                    }
                  />
                  <label for={id}>{action}</label>
                </div>
              );
            })}
          </fieldset>
        ))}
      </div>
      {beyond.length > 0 ? (
        <p class="muted" data-testid="permissions-beyond">
          Also granted, beyond what your key holds (you cannot change these): {beyond.join(", ")}
        </p>
      ) : null}
    </fieldset>
  );
}
