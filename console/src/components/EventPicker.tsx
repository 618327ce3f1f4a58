/** The event types an endpoint receives: every type (`["*"]`) or the chosen ones. */
import type { EventType, WebhookEvents } from "../api/client";

export const EVENT_TYPES = [
  "key.created",
  "key.updated",
  "key.revoked",
  "key.rolled",
  "key.expiring",
  "key.expired",
  "key.leaked",
  "member.removed",
  "sandbox.created",
  "sandbox.killed",
  "sandbox.expired",
  "link.created",
  "link.updated",
  "link.deleted",
  "domain.verified",
  "webhook.test",
  "webhook.disabled",
] as const satisfies readonly EventType[];

// Fails to compile when openapi.yaml gains an event type this list does not offer.
type UnlistedEvent = Exclude<EventType, (typeof EVENT_TYPES)[number]>;
const everyEventListed: [UnlistedEvent] extends [never] ? true : UnlistedEvent = true;
void everyEventListed;

export type EventSelection = WebhookEvents;

interface Props {
  idPrefix: string;
  value: EventSelection;
  onChange: (next: EventSelection) => void;
  disabled?: boolean;
}

export function isAll(value: readonly string[]): value is "*"[] {
  return value.length === 1 && value[0] === "*";
}

export function EventPicker({ idPrefix, value, onChange, disabled = false }: Props) {
  const all = isAll(value);
  const chosen = new Set<string>(all ? [] : value);
  return (
    <fieldset class="events" data-testid={`${idPrefix}-events`}>
      <legend>Events</legend>
      <div class="check">
        <input
          type="radio"
          id={`${idPrefix}-events-all`}
          name={`${idPrefix}-events-mode`}
          checked={all}
          disabled={disabled}
          onChange={() => onChange(["*"])}
          data-testid={`${idPrefix}-events-all`}
        />
        <label for={`${idPrefix}-events-all`}>Every event type, present and future</label>
      </div>
      <div class="check">
        <input
          type="radio"
          id={`${idPrefix}-events-some`}
          name={`${idPrefix}-events-mode`}
          checked={!all}
          disabled={disabled}
          onChange={() => onChange(all ? [] : value)}
          data-testid={`${idPrefix}-events-some`}
        />
        <label for={`${idPrefix}-events-some`}>Only these:</label>
      </div>
      <div class="event-grid">
        {EVENT_TYPES.map((type) => {
          const id = `${idPrefix}-event-${type.replace(".", "-")}`;
          return (
            <div class="check" key={type}>
              <input
                type="checkbox"
                id={id}
                checked={all || chosen.has(type)}
                disabled={disabled || all}
                onChange={(e) => {
                  const next = new Set(chosen);
                  if (e.currentTarget.checked) next.add(type);
                  else next.delete(type);
                  onChange(EVENT_TYPES.filter((t) => next.has(t)));
                }}
                data-testid={`event-${type}`}
              />
              <label for={id}>
                <code>{type}</code>
              </label>
            </div>
          );
        })}
      </div>
    </fieldset>
  );
}
