/**
 * Picks an image and uploads it for one purpose: the file's record, the PUT of its bytes (with a
 * labelled progress bar) and its completion, ending `ready` or `rejected` with the reason.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { useSession, type FilePurpose, type KeyhiveFile } from "../api/client";
import { formatBytes } from "../format";
import {
  CONTENT_TYPES,
  IDLE,
  PURPOSE_MAX_BYTES,
  checkFile,
  uploadFile,
  type UploadState,
  type XhrLike,
} from "../upload";
import { ErrorBanner } from "./ErrorBanner";

interface Props {
  /** Unique on the page: ids and test ids derive from it. */
  id: string;
  label: string;
  /** Fixed purpose, or null to let the operator choose. */
  purpose: FilePurpose | null;
  onDone?: (file: KeyhiveFile) => void;
  /** For tests: the XMLHttpRequest to use. */
  makeXhr?: () => XhrLike;
}

const PHASE_TEXT: Record<UploadState["phase"], string> = {
  idle: "",
  creating: "Registering the file…",
  uploading: "Uploading to storage…",
  completing: "Checking the image…",
  ready: "Ready.",
  rejected: "Rejected.",
  failed: "The upload failed.",
};

export function FileUpload({ id, label, purpose: fixedPurpose, onDone, makeXhr }: Props) {
  const { client } = useSession();
  const [purpose, setPurpose] = useState<FilePurpose>(fixedPurpose ?? "logo");
  const [picked, setPicked] = useState<File | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [state, setState] = useState<UploadState>(IDLE);
  const input = useRef<HTMLInputElement>(null);
  const busy = state.phase === "creating" || state.phase === "uploading" || state.phase === "completing";
  const effective = fixedPurpose ?? purpose;
  /** The upload in flight: leaving the page (unmounting) aborts it. */
  const inFlight = useRef<AbortController | null>(null);
  useEffect(
    () => () => {
      inFlight.current?.abort();
      inFlight.current = null;
    },
    [],
  );

  const start = async (event: Event) => {
    event.preventDefault();
    event.stopPropagation();
    if (!picked) {
      setProblem("Choose an image first.");
      return;
    }
    const why = checkFile(effective, picked);
    setProblem(why);
    if (why) return;
    inFlight.current?.abort();
    const controller = new AbortController();
    inFlight.current = controller;
    const report = (next: UploadState) => {
      if (!controller.signal.aborted) setState(next);
    };
    const last = await uploadFile(
      { client, signal: controller.signal, ...(makeXhr ? { makeXhr } : {}) },
      effective,
      picked,
      report,
    );
    if (controller.signal.aborted) return;
    inFlight.current = null;
    if (last.phase === "ready" && last.file) onDone?.(last.file);
  };

  return (
    <fieldset class="upload" data-testid={`${id}-fieldset`}>
      <legend>{label}</legend>
      {fixedPurpose === null ? (
        <div class="field">
          <label for={`${id}-purpose`}>Purpose</label>
          <select
            id={`${id}-purpose`}
            value={purpose}
            disabled={busy}
            onChange={(e) => setPurpose(e.currentTarget.value as FilePurpose)}
            data-testid={`${id}-purpose`}
          >
            <option value="logo">Logo for QR codes (at most 2 MiB, up to 4096×4096)</option>
            <option value="social_image">Link preview image (at most 5 MiB, 200×200 to 4096×4096)</option>
          </select>
        </div>
      ) : null}
      <div class="field">
        <label for={`${id}-input`}>
          Image (PNG, JPEG or WebP, at most {formatBytes(PURPOSE_MAX_BYTES[effective])})
        </label>
        <input
          id={`${id}-input`}
          ref={input}
          type="file"
          accept={CONTENT_TYPES.join(",")}
          disabled={busy}
          onChange={(e) => {
            const file = e.currentTarget.files?.[0] ?? null;
            setPicked(file);
            setProblem(file ? checkFile(effective, file) : null);
            setState(IDLE);
          }}
          data-testid={`${id}-input`}
        />
      </div>
      {problem ? (
        <p class="field-error" data-testid={`${id}-problem`}>
          {problem}
        </p>
      ) : null}
      <div class="actions">
        <button type="button" disabled={busy || !picked} onClick={start} data-testid={`${id}-submit`}>
          {busy ? "Uploading…" : "Upload"}
        </button>
      </div>
      {state.phase !== "idle" ? (
        <div class="upload-state">
          <label for={`${id}-progress`}>Upload progress</label>
          <div class="progress-row">
            <progress id={`${id}-progress`} max={100} value={state.percent} data-testid={`${id}-progress`}>
              {state.percent}%
            </progress>
            <span data-testid={`${id}-percent`}>{state.percent}%</span>
          </div>
          <p role="status" data-testid={`${id}-status`} data-phase={state.phase}>
            {PHASE_TEXT[state.phase]}
            {state.file && (state.phase === "ready" || state.phase === "rejected") ? (
              <>
                {" "}
                File <code data-testid={`${id}-file-id`}>{state.file.id}</code>
                {state.phase === "ready" && state.file.width
                  ? `, ${state.file.width}×${state.file.height}`
                  : ""}
                {state.reason ? `: ${state.reason}` : "."}
              </>
            ) : null}
          </p>
          {state.phase === "failed" || state.phase === "rejected" ? (
            <ErrorBanner error={state.error} />
          ) : null}
        </div>
      ) : null}
    </fieldset>
  );
}
