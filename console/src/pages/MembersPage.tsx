/** The organization's members: list, add, and remove (which revokes their user key with them). */
import { useState } from "preact/hooks";
import { unwrap, useSession, type Member } from "../api/client";
import { useAction } from "../api/useAction";
import { useCursorList } from "../api/useCursorList";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorBanner } from "../components/ErrorBanner";
import { LoadMore } from "../components/LoadMore";
import { formatTime } from "../format";
import { holds } from "../permissions";
import { href } from "../routing";

export function MembersPage() {
  const { client, permissions, self } = useSession();
  // Members belong to the organization: only live keys add or remove them.
  const canCreate = holds(permissions, "members", "create") && self.environment === "live";
  const canDelete = holds(permissions, "members", "delete") && self.environment === "live";
  const list = useCursorList(
    (cursor) => unwrap(client.GET("/v1/members", { params: { query: { limit: 50, cursor } } })),
    [],
  );
  const [status, setStatus] = useState("");
  const [removing, setRemoving] = useState<Member | null>(null);
  const { busy, error: removeError, setError: setRemoveError, run } = useAction();

  const remove = async (member: Member) => {
    await run(async () => {
      const { data } = await unwrap(
        client.DELETE("/v1/members/{user_id}", { params: { path: { user_id: member.user_id } } }),
      );
      list.setItems((items) => items.filter((m) => m.user_id !== member.user_id));
      setStatus(
        `Removed ${member.name}${data.removed_key_id ? `; their user key ${data.removed_key_id} was revoked` : ""}.`,
      );
      setRemoving(null);
    });
  };

  return (
    <>
      <h1 tabIndex={-1}>Members</h1>
      <p role="status" class="status" data-testid="members-status">
        {status}
      </p>
      {canCreate ? (
        <AddMember
          onAdded={(member) => {
            list.setItems((items) => [member, ...items.filter((m) => m.user_id !== member.user_id)]);
            setStatus(`Added ${member.name}.`);
          }}
        />
      ) : null}
      <h2>All members</h2>
      <ErrorBanner error={list.error} />
      {removeError && !removing ? <ErrorBanner error={removeError} /> : null}
      <div class="table-scroll">
        <table class="cards" data-testid="members-table">
          <caption class="visually-hidden">Members</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">User id</th>
              <th scope="col">Added</th>
              {canDelete ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {list.items.map((member) => (
              <tr key={member.user_id} data-testid={`member-row-${member.user_id}`}>
                <th scope="row" data-label="Name">
                  {member.name}
                </th>
                <td data-label="Email">{member.email}</td>
                <td data-label="User id">
                  <a href={href("/keys", { created_by: member.user_id })} title="Keys this member created">
                    <code>{member.user_id}</code>
                  </a>
                </td>
                <td data-label="Added">{formatTime(member.created_at)}</td>
                {canDelete ? (
                  <td data-label="Actions">
                    <button
                      type="button"
                      class="danger"
                      onClick={() => {
                        setRemoveError(undefined);
                        setRemoving(member);
                      }}
                      data-testid={`member-remove-${member.user_id}`}
                    >
                      Remove<span class="visually-hidden"> {member.name}</span>
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <LoadMore list={list} shown={list.items.length} noun={["member", "members"]} />
      {removing ? (
        <ConfirmDialog
          title={`Remove ${removing.name}?`}
          confirmLabel="Remove member"
          busy={busy}
          onCancel={() => setRemoving(null)}
          onConfirm={() => void remove(removing)}
        >
          <p>
            {removing.name} ({removing.email}) leaves the organization, and{" "}
            <strong>their user key goes with them</strong>: it is revoked in the same step, and every request
            with it is refused from then on.
          </p>
          <ErrorBanner error={removeError} />
        </ConfirmDialog>
      ) : null}
    </>
  );
}

function AddMember({ onAdded }: { onAdded: (member: Member) => void }) {
  const { client } = useSession();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [userId, setUserId] = useState("");
  const { busy, error, setError, run } = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    // What was typed stays, to fix and send again.
    await run(async () => {
      const { data } = await unwrap(
        client.POST("/v1/members", { body: { name, email, user_id: userId.trim() || null } }),
      );
      onAdded(data);
      setName("");
      setEmail("");
      setUserId("");
    });
  };

  return (
    <section aria-labelledby="add-member-title">
      <h2 id="add-member-title">Add a member</h2>
      <form class="filters" onSubmit={submit} data-testid="member-form">
        <div class="field">
          <label for="member-name">Name</label>
          <input
            id="member-name"
            required
            maxLength={100}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            data-testid="member-name"
          />
        </div>
        <div class="field">
          <label for="member-email">Email</label>
          <input
            id="member-email"
            type="email"
            required
            maxLength={254}
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
            data-testid="member-email"
          />
        </div>
        <div class="field">
          <label for="member-user-id">User id (optional)</label>
          <input
            id="member-user-id"
            pattern="[A-Za-z0-9_\-]{1,64}"
            placeholder="generated when empty"
            value={userId}
            onInput={(e) => setUserId(e.currentTarget.value)}
            data-testid="member-user-id"
          />
        </div>
        <div class="field actions">
          <button type="submit" class="primary" disabled={busy} data-testid="member-submit">
            {busy ? "Adding…" : "Add member"}
          </button>
        </div>
      </form>
      <ErrorBanner error={error} />
    </section>
  );
}
