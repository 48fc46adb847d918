// @vitest-environment jsdom
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { installFakeApi, makeTask, type FakeApi } from "@/test/fakeApi";
import { router } from "@/test/router";
import { TodoApp } from "./TodoApp";

let fake: FakeApi;

beforeEach(() => {
  vi.clearAllMocks();
  fake = installFakeApi([
    makeTask({ id: 1, title: "Write report", priority: "high" }),
    makeTask({ id: 2, title: "Water plants", done: true, priority: "low" }),
  ]);
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function renderApp() {
  render(<TodoApp />);
  await screen.findByText("Write report");
  return userEvent.setup();
}

function taskList() {
  return screen.getByRole("list", { name: "Tasks" });
}

describe("TodoApp", () => {
  it("shows the account and the tasks", async () => {
    await renderApp();
    expect(await screen.findByText("ada@example.com")).toBeInTheDocument();
    expect(within(taskList()).getAllByRole("listitem")).toHaveLength(2);
  });

  it("adds a task and keeps the server's version", async () => {
    const user = await renderApp();
    await user.type(screen.getByLabelText("Title"), "Call mom{Enter}");
    expect(await within(taskList()).findByText("Call mom")).toBeInTheDocument();
    expect(fake.tasks.map((task) => task.title)).toContain("Call mom");
  });

  it("rolls an optimistic add back and says why when the server fails", async () => {
    const user = await renderApp();
    fake.failOnce("POST", "/api/tasks", 500, { detail: "Database error", code: "internal" });
    await user.type(screen.getByLabelText("Title"), "Doomed{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("Database error");
    expect(within(taskList()).queryByText("Doomed")).not.toBeInTheDocument();
  });

  it("completes a task", async () => {
    const user = await renderApp();
    await user.click(screen.getByRole("checkbox", { name: 'Mark "Write report" as done' }));
    expect(await screen.findByRole("checkbox", { name: 'Mark "Write report" as not done' })).toBeChecked();
    expect(fake.tasks.find((task) => task.id === 1)?.done).toBe(true);
  });

  it("restores a task whose delete failed", async () => {
    const user = await renderApp();
    fake.failOnce("DELETE", "/api/tasks/1", 404, { detail: "Task not found", code: "not_found" });
    await user.click(screen.getByRole("button", { name: 'Delete "Write report"' }));
    expect(screen.getByRole("heading", { name: "Tasks" })).toHaveFocus();
    expect(await screen.findByRole("alert")).toHaveTextContent("Task not found");
    expect(within(taskList()).getByText("Write report")).toBeInTheDocument();
  });

  it("filters on the server by status and priority", async () => {
    const user = await renderApp();
    await user.click(screen.getByRole("radio", { name: "Open" }));
    await waitFor(() => expect(within(taskList()).queryByText("Water plants")).not.toBeInTheDocument());
    await user.selectOptions(screen.getByLabelText("Priority", { selector: "#filter-priority" }), "high");
    await waitFor(() => expect(fake.calls.at(-1)).toBe("GET /api/tasks?sort=-created_at&done=false&priority=high"));
  });

  it("adds what the assistant created to the list", async () => {
    const user = await renderApp();
    await user.type(screen.getByLabelText("Message"), "add buy milk tomorrow{Enter}");
    expect(await within(taskList()).findByText("Buy milk")).toBeInTheDocument();
  });

  it("explains an outage, stays usable, and recovers on retry", async () => {
    fake.failWith = 502;
    render(<TodoApp />);
    expect(await screen.findByRole("alert")).toHaveTextContent("can't be reached right now");
    expect(screen.getByText("Your tasks can't be shown right now.")).toBeInTheDocument();
    fake.failWith = null;
    await userEvent.setup().click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("Write report")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("goes back to login when the session has ended", async () => {
    fake.failWith = 401;
    render(<TodoApp />);
    await waitFor(() => expect(router.replace).toHaveBeenCalledWith("/login?expired=1"));
  });

  it("logs out", async () => {
    fake.failOnce("POST", "/api/auth/logout", 204, null);
    const user = await renderApp();
    await user.click(screen.getByRole("button", { name: "Log out" }));
    expect(fake.calls).toContain("POST /api/auth/logout");
    expect(router.replace).toHaveBeenCalledWith("/login?loggedout=1");
  });
});
