/**
 * Shows a new key once. The parent owns the secret and drops it in `onClose`: once the dialog
 * closes, the secret is in no state and no DOM. Only its close button closes it (not Esc), and
 * while it is open a 401 does not sign out (the session waits for it to close).
 */
import { useContext, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { SessionContext } from "../api/client";

interface Props {
  title: string;
  secret: string;
  /** E.g. until when a rolled key's old secret still works. */
  note?: string | undefined;
  /** What the secret is: "key" (the default), "signing secret". */
  noun?: string;
  /** How keyhive keeps it, said after "you won't see it again". */
  kept?: string;
  onClose: () => void;
}

export function SecretDialog({
  title,
  secret,
  note,
  noun = "key",
  kept = "keyhive keeps only a hash of it.",
  onClose,
}: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const copyButton = useRef<HTMLButtonElement>(null);
  const [copyState, setCopyState] = useState<"idle" | "copied" | "failed">("idle");
  const holdSession = useContext(SessionContext)?.holdSession;

  // Held from the commit that shows the secret (a layout effect runs in that very task, before
  // any answer can land) until the unmount: a 401 meanwhile must not unmount the secret.
  useLayoutEffect(() => holdSession?.(), []);

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
    copyButton.current?.focus();
  }, []);

  const copy = () => {
    navigator.clipboard.writeText(secret).then(
      () => setCopyState("copied"),
      () => setCopyState("failed"),
    );
  };

  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="secret-title"
      data-testid="secret-dialog"
      onCancel={(e) => {
        // Esc would drop a secret that cannot be shown again: only the close button closes.
        e.preventDefault();
      }}
      onClose={onClose}
    >
      <h2 id="secret-title">{title}</h2>
      <p>
        <strong>Copy this {noun} now: you won't see it again.</strong> {kept}
      </p>
      <label for="secret-value">{noun.charAt(0).toUpperCase() + noun.slice(1)}</label>
      <input
        id="secret-value"
        class="secret"
        type="text"
        readOnly
        value={secret}
        spellcheck={false}
        autoComplete="off"
        data-testid="secret-value"
        onFocus={(e) => e.currentTarget.select()}
      />
      {note ? <p data-testid="secret-note">{note}</p> : null}
      <p role="status" class="muted">
        {copyState === "copied"
          ? "Copied to the clipboard."
          : copyState === "failed"
            ? `The clipboard refused: select the ${noun} and copy it by hand.`
            : ""}
      </p>
      <div class="actions">
        <button type="button" ref={copyButton} class="primary" onClick={copy} data-testid="secret-copy">
          Copy {noun}
        </button>
        <button
          type="button"
          onClick={() => {
            // close() fires the dialog's close event, which calls onClose.
            if (dialog.current?.open) dialog.current.close();
            else onClose();
          }}
          data-testid="secret-close"
        >
          I have stored it, close
        </button>
      </div>
    </dialog>
  );
}
