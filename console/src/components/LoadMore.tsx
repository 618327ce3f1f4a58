import type { CursorList } from "../api/useCursorList";

/** The pager under a list: how much is shown, and a button for the next page while there is one. */
export function LoadMore({
  list,
  shown,
  noun,
}: {
  list: Pick<CursorList<unknown>, "loading" | "hasMore" | "loadMore">;
  shown: number;
  /** Singular and plural: `["key", "keys"]`. */
  noun: readonly [string, string];
}) {
  return (
    <div class="pager">
      <p class="muted" role="status">
        {list.loading
          ? `Loading ${noun[1]}…`
          : `${shown} ${shown === 1 ? noun[0] : noun[1]} shown${list.hasMore ? ", more available" : ""}.`}
      </p>
      {list.hasMore ? (
        <button type="button" onClick={list.loadMore} disabled={list.loading} data-testid="load-more">
          Load more
        </button>
      ) : null}
    </div>
  );
}
