/** Files: upload an image (logo or social image), see it ready or rejected, list and delete. */
import { useState } from "preact/hooks";
import { unwrap, useSession, type KeyhiveFile } from "../api/client";
import { useAction } from "../api/useAction";
import { useCursorList } from "../api/useCursorList";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorBanner } from "../components/ErrorBanner";
import { ExternalLink } from "../components/ExternalLink";
import { FileUpload } from "../components/FileUpload";
import { LoadMore } from "../components/LoadMore";
import { formatBytes, formatTime } from "../format";
import { holds } from "../permissions";
import type { XhrLike } from "../upload";

export function FilesPage({ makeXhr }: { makeXhr?: () => XhrLike }) {
  const { client, permissions } = useSession();
  const canCreate = holds(permissions, "files", "create");
  const canDelete = holds(permissions, "files", "delete");
  const list = useCursorList(
    (cursor) => unwrap(client.GET("/v1/files", { params: { query: { limit: 50, cursor } } })),
    [],
  );
  const [notice, setNotice] = useState("");
  const [deleting, setDeleting] = useState<KeyhiveFile | null>(null);
  const { busy, error: deleteError, setError: setDeleteError, run } = useAction();

  const remove = async (file: KeyhiveFile) => {
    // A 409 (a link's preview shows it) is shown with its message and request id, below the list.
    await run(async () => {
      await unwrap(client.DELETE("/v1/files/{id}", { params: { path: { id: file.id } } }));
      list.setItems((items) => items.filter((f) => f.id !== file.id));
      setNotice(`Deleted ${file.id}.`);
    });
    setDeleting(null);
  };

  return (
    <>
      <h1 tabIndex={-1}>Files</h1>
      <p role="status" class="status" data-testid="files-status">
        {notice}
      </p>
      {canCreate ? (
        <section aria-labelledby="upload-title">
          <h2 id="upload-title">Upload an image</h2>
          <FileUpload
            id="upload"
            label="New file"
            purpose={null}
            {...(makeXhr ? { makeXhr } : {})}
            onDone={(file) => {
              list.setItems((items) => [file, ...items.filter((f) => f.id !== file.id)]);
              setNotice(`${file.id} is ready.`);
            }}
          />
        </section>
      ) : null}
      <h2>All files</h2>
      <ErrorBanner error={list.error} />
      {deleteError ? (
        <div data-testid="file-delete-error">
          <ErrorBanner error={deleteError} />
        </div>
      ) : null}
      <div class="table-scroll">
        <table class="cards" data-testid="files-table">
          <caption class="visually-hidden">Files, newest first</caption>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Purpose</th>
              <th scope="col">Status</th>
              <th scope="col">Type and size</th>
              <th scope="col">Created</th>
              {canDelete ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {list.items.map((file) => (
              <tr key={file.id} data-testid={`file-row-${file.id}`} data-status={file.status}>
                <th scope="row" data-label="File">
                  <code>{file.id}</code>
                  {file.url ? (
                    <>
                      {" "}
                      <ExternalLink url={file.url} testId="file-open">
                        open<span class="visually-hidden"> {file.id}</span>
                      </ExternalLink>
                    </>
                  ) : null}
                </th>
                <td data-label="Purpose">{file.purpose === "logo" ? "logo" : "social image"}</td>
                <td data-label="Status">
                  <span
                    class={`badge ${file.status === "ready" ? "ok" : file.status === "rejected" ? "off" : "pending"}`}
                    data-testid="file-status"
                  >
                    {file.status}
                  </span>
                  {file.rejected_reason ? <span class="muted"> {file.rejected_reason}</span> : null}
                </td>
                <td data-label="Type and size">
                  {file.content_type}, {formatBytes(file.size_bytes)}
                  {file.width ? `, ${file.width}×${file.height}` : ""}
                </td>
                <td data-label="Created">{formatTime(file.created_at)}</td>
                {canDelete ? (
                  <td data-label="Actions">
                    <button
                      type="button"
                      class="danger"
                      onClick={() => {
                        setDeleteError(undefined);
                        setDeleting(file);
                      }}
                      data-testid={`file-delete-${file.id}`}
                    >
                      Delete<span class="visually-hidden"> {file.id}</span>
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!list.loading && list.items.length === 0 && !list.error ? <p>No files yet.</p> : null}
      <LoadMore list={list} shown={list.items.length} noun={["file", "files"]} />
      {deleting ? (
        <ConfirmDialog
          title={`Delete ${deleting.id}?`}
          confirmLabel="Delete file"
          busy={busy}
          onCancel={() => setDeleting(null)}
          onConfirm={() => void remove(deleting)}
        >
          <p>
            The file and its bytes go; its public URL stops working. A file a link's preview shows cannot be
            deleted: change the link's preview, or delete the link, first.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
