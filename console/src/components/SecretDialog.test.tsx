import { fireEvent, render, screen } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { SecretDialog } from "./SecretDialog";

const SECRET = "kh_live_AbCdEf123456.1qveTxb7pHdEcauVumlFkpuIa1CXyDTZEOTcWPnuSyU";

describe("SecretDialog", () => {
  it("ignores Esc (the cancel event): only the close button closes it", () => {
    const onClose = vi.fn();
    render(<SecretDialog title="The new key" secret={SECRET} onClose={onClose} />);
    const dialog = screen.getByTestId("secret-dialog") as HTMLDialogElement;
    const cancel = new Event("cancel", { cancelable: true });
    dialog.dispatchEvent(cancel);
    expect(cancel.defaultPrevented).toBe(true);
    expect(onClose).not.toHaveBeenCalled();
    expect((screen.getByTestId("secret-value") as HTMLInputElement).value).toBe(SECRET);
    fireEvent.click(screen.getByTestId("secret-close"));
    expect(onClose).toHaveBeenCalledTimes(1);
  });
});
