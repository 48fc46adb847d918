// @vitest-environment jsdom
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { installFakeApi, validationError, type FakeApi } from "@/test/fakeApi";
import { ChatPanel } from "./ChatPanel";

let fake: FakeApi;

beforeEach(() => {
  fake = installFakeApi();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

function renderPanel() {
  const onTasksChanged = vi.fn();
  const onError = vi.fn();
  render(<ChatPanel onTasksChanged={onTasksChanged} onError={onError} />);
  return { onTasksChanged, onError, user: userEvent.setup() };
}

describe("ChatPanel", () => {
  it("sends the message, shows the reply and refreshes the tasks it changed", async () => {
    const { onTasksChanged, user } = renderPanel();
    await user.type(screen.getByLabelText("Message"), "add buy milk tomorrow{Enter}");
    const log = screen.getByRole("list", { name: "Conversation" });
    expect(log).toHaveTextContent("You said:add buy milk tomorrow");
    expect(log).toHaveTextContent(/Assistant:Added task \d+: Buy milk\./);
    expect(screen.getByLabelText("Message")).toHaveValue("");
    expect(onTasksChanged).toHaveBeenCalledTimes(1);
  });

  it("does not refresh the list for a read-only answer", async () => {
    fake.failOnce("POST", "/api/chat", 200, { reply: "Nothing left.", actions: [{ type: "list", task_id: null }], tasks: [], source: "parser" });
    const { onTasksChanged, user } = renderPanel();
    await user.type(screen.getByLabelText("Message"), "what is left{Enter}");
    expect(await screen.findByText("Nothing left.")).toBeInTheDocument();
    expect(onTasksChanged).not.toHaveBeenCalled();
  });

  it("shows a validation error next to the message field", async () => {
    fake.failOnce("POST", "/api/chat", 422, validationError("message", "String should have at most 1000 characters"));
    const { user } = renderPanel();
    await user.type(screen.getByLabelText("Message"), "too long{Enter}");
    expect(screen.getByLabelText("Message")).toHaveAccessibleDescription("String should have at most 1000 characters");
  });

  it("keeps the message and explains an outage", async () => {
    fake.failWith = 502;
    const { user } = renderPanel();
    await user.type(screen.getByLabelText("Message"), "add x{Enter}");
    expect(screen.getByRole("alert")).toHaveTextContent("can't be reached");
    expect(screen.getByLabelText("Message")).toHaveValue("add x");
  });

  it("hands an ended session to the page", async () => {
    fake.failWith = 401;
    const { onError, user } = renderPanel();
    await user.type(screen.getByLabelText("Message"), "list{Enter}");
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ status: 401 }));
  });
});
