/**
 * The resource pages of part two, in one chunk the shell loads on first use (`import()`), so the
 * first load stays small.
 */
export { DomainsPage } from "./DomainsPage";
export { FilesPage } from "./FilesPage";
export { LinkPage } from "./LinkPage";
export { LinkStatsPage } from "./LinkStatsPage";
export { LinksPage } from "./LinksPage";
export { SandboxesPage } from "./SandboxesPage";
export { WebhookPage } from "./WebhookPage";
export { WebhooksPage } from "./WebhooksPage";
