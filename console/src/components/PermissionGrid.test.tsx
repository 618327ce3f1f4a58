import { fireEvent, render, screen } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { PermissionGrid } from "./PermissionGrid";

describe("PermissionGrid", () => {
  it("offers only the permissions the signed-in key holds", () => {
    render(
      <PermissionGrid
        legend="Permissions"
        offered={{ sandboxes: ["read", "create"], shortLinks: ["read"] }}
        value={{}}
        onChange={() => undefined}
      />,
    );
    const offered = screen
      .getAllByRole("checkbox")
      .map((box) => box.getAttribute("data-testid"))
      .sort();
    expect(offered).toEqual(["perm-sandboxes-create", "perm-sandboxes-read", "perm-shortLinks-read"]);
    expect(screen.queryByTestId("perm-sandboxes-delete")).toBeNull();
    expect(screen.queryByTestId("perm-apiKeys-read")).toBeNull();
    // Each resource is its own fieldset, named by its legend.
    expect(screen.getByRole("group", { name: "sandboxes" })).toBeTruthy();
  });

  it("reports a toggled permission and names grants beyond the caller's reach", () => {
    const onChange = vi.fn();
    render(
      <PermissionGrid
        legend="Permissions"
        offered={{ sandboxes: ["read"] }}
        value={{ sandboxes: ["read"], audit: ["read"] }}
        onChange={onChange}
      />,
    );
    const box = screen.getByTestId("perm-sandboxes-read") as HTMLInputElement;
    expect(box.checked).toBe(true);
    fireEvent.click(box);
    expect(onChange).toHaveBeenCalledWith({ audit: ["read"] });
    expect(screen.getByTestId("permissions-beyond").textContent).toContain("audit:read");
  });
});
