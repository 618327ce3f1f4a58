import { describe, expect, it } from "vitest";
import { apiBasePath, apiBaseUrl } from "./base";

describe("the API base derived from the console's address", () => {
  it.each([
    ["/console", ""],
    ["/console/", ""],
    ["/Prod/console", "/Prod"],
    ["/Prod/console/", "/Prod"],
    ["/Prod/console/index.html", "/Prod"],
    ["/a/b/console", "/a/b"],
    ["/consoles/console", "/consoles"],
  ])("%s -> %j", (pathname, base) => {
    expect(apiBasePath(pathname)).toBe(base);
  });

  it("keeps the page's own origin", () => {
    expect(
      apiBaseUrl({ origin: "https://abc.execute-api.us-east-1.amazonaws.com", pathname: "/prod/console" }),
    ).toBe("https://abc.execute-api.us-east-1.amazonaws.com/prod");
  });
});
