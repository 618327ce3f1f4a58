/** The console shell: the sign-in gate, the header naming who acts, the nav, and the routes. */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  createConsoleClient,
  KeyhiveError,
  SessionContext,
  unwrap,
  type Key,
  type Session,
} from "./api/client";
import { ErrorBanner } from "./components/ErrorBanner";
import { lazyModule } from "./components/Lazy";
import { TestModeBanner } from "./components/TestModeBanner";
import { AuditPage } from "./pages/AuditPage";
import { CreateKeyPage } from "./pages/CreateKeyPage";
import { KeyPage } from "./pages/KeyPage";
import { KeysPage } from "./pages/KeysPage";
import { MembersPage } from "./pages/MembersPage";
import { SignIn } from "./pages/SignIn";
import { asPermissions, holds, type Permissions } from "./permissions";
import { href, navigate, parseHash, useRoute, type Route } from "./routing";
import { isId } from "./ids";
import { clearStoredKey, deploymentPrefix, readStoredKey, storeKey } from "./session";

const REFUSED =
  "The API refused the key (401): it was revoked, disabled, expired or rolled. Sign in again with a valid key.";

interface Page {
  path: string;
  label: string;
  readable: (p: Permissions) => boolean;
}

export const PAGES: Page[] = [
  { path: "keys", label: "API keys", readable: (p) => holds(p, "apiKeys", "read") },
  { path: "sandboxes", label: "Sandboxes", readable: (p) => holds(p, "sandboxes", "read") },
  { path: "links", label: "Short links", readable: (p) => holds(p, "shortLinks", "read") },
  { path: "domains", label: "Domains", readable: (p) => holds(p, "domains", "read") },
  { path: "webhooks", label: "Webhooks", readable: (p) => holds(p, "webhooks", "read") },
  { path: "files", label: "Files", readable: (p) => holds(p, "files", "read") },
  { path: "members", label: "Members", readable: (p) => holds(p, "members", "read") },
  { path: "audit", label: "Audit log", readable: (p) => holds(p, "audit", "read") },
];

/** The part-two pages, loaded on first use. */
const Resources = lazyModule(() => import("./pages/resources"));

export function App() {
  const [key, setKey] = useState<string | null>(() => readStoredKey());
  const [self, setSelf] = useState<Key | null>(null);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [bootError, setBootError] = useState<unknown>(undefined);
  const keyRef = useRef(key);
  keyRef.current = key;
  /** Secrets on screen: while any is, a 401 waits (in `refusedMeanwhile`) for them to close. */
  const secretsShown = useRef(0);
  const refusedMeanwhile = useRef(false);

  const endSession = useCallback((message: string | undefined) => {
    refusedMeanwhile.current = false;
    clearStoredKey();
    keyRef.current = null;
    setKey(null);
    setSelf(null);
    setBootError(undefined);
    setNotice(message);
  }, []);

  const onUnauthorized = useCallback(
    (usedKey: string | null) => {
      // A refusal of a key this tab has already left (rolled and replaced) says nothing of the current one.
      if (usedKey !== keyRef.current) return;
      // Signing out now would unmount a secret that can never be shown again.
      if (secretsShown.current > 0) refusedMeanwhile.current = true;
      else endSession(REFUSED);
    },
    [endSession],
  );

  const holdSession = useCallback(() => {
    secretsShown.current += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      secretsShown.current -= 1;
      if (secretsShown.current === 0 && refusedMeanwhile.current) endSession(REFUSED);
    };
  }, [endSession]);

  const adoptKey = useCallback((next: string) => {
    storeKey(next);
    keyRef.current = next;
    refusedMeanwhile.current = false;
    setKey(next);
  }, []);

  const client = useMemo(() => createConsoleClient(() => keyRef.current, onUnauthorized), [onUnauthorized]);

  const refreshSelf = useCallback(async () => {
    const { data } = await unwrap(client.GET("/v1/keys/self"));
    setSelf(data);
  }, [client]);

  // A key kept from earlier in this tab is checked again before it is used.
  useEffect(() => {
    if (key && !self) {
      setBootError(undefined);
      refreshSelf().catch((failure: unknown) => {
        if (!(failure instanceof KeyhiveError && failure.status === 401)) setBootError(failure);
      });
    }
  }, [key, self, refreshSelf]);

  if (!key) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(accepted, record) => {
          storeKey(accepted);
          keyRef.current = accepted;
          setKey(accepted);
          setSelf(record);
          setNotice(undefined);
        }}
      />
    );
  }

  if (!self) {
    return (
      <main id="main" class="signin">
        <h1>keyhive console</h1>
        {bootError ? (
          <>
            <ErrorBanner error={bootError} />
            <div class="actions">
              <button type="button" onClick={() => void refreshSelf().catch(setBootError)}>
                Try again
              </button>
              <button type="button" onClick={() => endSession(undefined)}>
                Sign out
              </button>
            </div>
          </>
        ) : (
          <p role="status">Checking your key…</p>
        )}
      </main>
    );
  }

  const session: Session = {
    client,
    self,
    permissions: asPermissions(self.permissions),
    prefix: deploymentPrefix(key),
    refreshSelf,
    signOut: () => endSession("Signed out."),
    adoptKey,
    holdSession,
  };
  return (
    <SessionContext.Provider value={session}>
      <Shell session={session} />
    </SessionContext.Provider>
  );
}

function Shell({ session }: { session: Session }) {
  const route = useRoute();
  const readable = PAGES.filter((p) => p.readable(session.permissions));
  const section = route.segments[0] ?? "";
  const mainRef = useRef<HTMLElement>(null);
  const firstRender = useRef(true);
  const routeKey = route.segments.join("/");

  useEffect(() => {
    // Only while the address is still empty: a navigation since the render wins.
    if (section === "" && readable[0] && parseHash(location.hash).segments.length === 0)
      navigate(href(`/${readable[0].path}`));
  }, [section, readable]);

  // On navigation, focus moves to the new page's heading, as a page load would.
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    mainRef.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [routeKey]);

  const { self } = session;
  return (
    <>
      <TestModeBanner environment={self.environment} />
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          // A plain #main would replace the hash route.
          e.preventDefault();
          mainRef.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <div class="brand">keyhive</div>
        <dl class="identity" data-testid="identity">
          <div>
            <dt>Organization</dt>
            <dd data-testid="identity-org">{self.org_id}</dd>
          </div>
          <div>
            <dt>Environment</dt>
            <dd>
              <span class={`badge env-${self.environment}`} data-testid="identity-environment">
                {self.environment === "test" ? "Test mode" : "Live"}
              </span>
            </dd>
          </div>
          <div>
            <dt>Key</dt>
            <dd data-testid="identity-key">
              {self.name} <code>{self.id}</code>
            </dd>
          </div>
        </dl>
        <button type="button" onClick={session.signOut} data-testid="signout">
          Sign out
        </button>
      </header>
      <nav class="nav" aria-label="Console">
        <ul>
          {readable.map((page) => (
            <li key={page.path}>
              <a
                href={href(`/${page.path}`)}
                aria-current={section === page.path ? "page" : undefined}
                data-testid={`nav-${page.path}`}
              >
                {page.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Routes route={route} readable={readable.map((p) => p.path)} permissions={session.permissions} />
      </main>
    </>
  );
}

function Routes({
  route,
  readable,
  permissions,
}: {
  route: Route;
  readable: string[];
  permissions: Permissions;
}) {
  const [section, id, sub] = route.segments;
  // Each id page is keyed by its id: another id remounts it, so nothing of the first (its data,
  // an open dialog, a secret) is ever shown beside, or acted on as, the second.
  // An id from the address is checked against its shape before any page asks the API for it.
  if (!section) {
    return readable.length === 0 ? (
      <>
        <h1 tabIndex={-1}>Nothing to show</h1>
        <p>This key may read none of the console's pages ({PAGES.map((p) => p.label).join(", ")}).</p>
      </>
    ) : null;
  }
  // A link's stats need stats:read, not shortLinks:read.
  if (section === "links" && id && sub === "stats") {
    if (!holds(permissions, "stats", "read") || route.segments.length > 3 || !isId("link", id))
      return <NotFound />;
    return <Resources render={(m) => <m.LinkStatsPage key={id} id={id} query={route.query} />} />;
  }
  if (!readable.includes(section)) return <NotFound />;
  switch (section) {
    case "keys":
      if (id === "new" && !sub) return <CreateKeyPage />;
      if (id) return isId("key", id) && !sub ? <KeyPage key={id} id={id} /> : <NotFound />;
      return <KeysPage query={route.query} />;
    case "members":
      return <MembersPage />;
    case "audit":
      return <AuditPage query={route.query} />;
    case "sandboxes":
      return id ? <NotFound /> : <Resources render={(m) => <m.SandboxesPage query={route.query} />} />;
    case "links":
      if (!id) return <Resources render={(m) => <m.LinksPage query={route.query} />} />;
      if (!isId("link", id)) return <NotFound />;
      if (sub === "qr" && route.segments.length === 3)
        return <Resources render={(m) => <m.LinkPage key={`${id}/qr`} id={id} only="qr" />} />;
      if (sub) return <NotFound />;
      return <Resources render={(m) => <m.LinkPage key={id} id={id} />} />;
    case "domains":
      return id ? <NotFound /> : <Resources render={(m) => <m.DomainsPage />} />;
    case "webhooks":
      if (sub || (id && !isId("webhook", id))) return <NotFound />;
      return id ? (
        <Resources render={(m) => <m.WebhookPage key={id} id={id} />} />
      ) : (
        <Resources render={(m) => <m.WebhooksPage />} />
      );
    case "files":
      return id ? <NotFound /> : <Resources render={(m) => <m.FilesPage />} />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <>
      <h1 tabIndex={-1}>Not found</h1>
      <p>There is no such page here, or your key may not read it.</p>
    </>
  );
}
