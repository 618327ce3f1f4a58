/** The prompt: paste a key, checked with `GET /v1/keys/self` before the console keeps it. */
import { useState } from "preact/hooks";
import { createConsoleClient, unwrap, type Key } from "../api/client";
import { ErrorBanner } from "../components/ErrorBanner";
import { KEY_SHAPE } from "../session";

interface Props {
  /** Why the operator is here again (e.g. the key was refused). */
  notice: string | undefined;
  onSignedIn: (key: string, self: Key) => void;
  /** For tests: the fetch behind the check. */
  fetch?: (request: Request) => Promise<Response>;
}

export function SignIn({ notice, onSignedIn, fetch }: Props) {
  const [candidate, setCandidate] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const trimmed = candidate.trim();
  const wellFormed = KEY_SHAPE.test(trimmed);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!wellFormed) {
      setError(new Error("That is not a keyhive key: <prefix>_<live|test>_<key id>.<secret>."));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const client = createConsoleClient(
        () => trimmed,
        () => undefined,
        fetch,
      );
      const { data } = await unwrap(client.GET("/v1/keys/self"));
      onSignedIn(trimmed, data);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>keyhive console</h1>
      <p>
        Sign in with an API key. It is kept in this tab only (session storage) and sent to this API alone.
      </p>
      {notice ? (
        <p class="notice" role="status" data-testid="signin-notice">
          {notice}
        </p>
      ) : null}
      <form onSubmit={submit} class="stack" noValidate>
        <label for="signin-key">API key</label>
        {/* Masked, but not a password: password managers are asked not to offer to save it. */}
        <input
          id="signin-key"
          name="keyhive-api-key"
          type="password"
          autoComplete="off"
          data-1p-ignore=""
          data-lpignore="true"
          spellcheck={false}
          required
          value={candidate}
          onInput={(e) => setCandidate(e.currentTarget.value)}
          aria-describedby="signin-key-hint signin-key-kept"
          data-testid="signin-key"
        />
        <p id="signin-key-hint" class="muted">
          Like <code>kh_live_AbCdEf123456.</code> followed by 43 characters.
        </p>
        <p id="signin-key-kept" class="muted" data-testid="signin-key-kept">
          The key stays in this tab only: do not let your browser or password manager save it.
        </p>
        <div>
          <button type="submit" class="primary" disabled={busy || trimmed === ""} data-testid="signin-submit">
            {busy ? "Checking…" : "Sign in"}
          </button>
        </div>
      </form>
      <ErrorBanner error={error} />
    </main>
  );
}
