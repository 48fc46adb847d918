// @vitest-environment jsdom
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "@/lib/api";
import { makeTask } from "@/test/fakeApi";
import { TaskItem } from "./TaskItem";

function renderItem(task = makeTask({ title: "Buy milk", priority: "high", due_date: "2025-02-03" })) {
  const onUpdate = vi.fn(async () => undefined);
  const onDelete = vi.fn();
  render(
    <ul>
      <TaskItem task={task} onUpdate={onUpdate} onDelete={onDelete} />
    </ul>,
  );
  return { task, onUpdate, onDelete, user: userEvent.setup() };
}

describe("TaskItem", () => {
  it("shows title, priority and due date", () => {
    renderItem();
    expect(screen.getByText("Buy milk")).toBeInTheDocument();
    expect(screen.getByText("high priority")).toBeInTheDocument();
    expect(screen.getByText("Mon, Feb 3, 2025")).toHaveAttribute("datetime", "2025-02-03");
  });

  it("flags an open task whose due date has passed", () => {
    renderItem(makeTask({ title: "Old", due_date: "2000-01-01" }));
    expect(screen.getByText(/Overdue/)).toBeInTheDocument();
  });

  it("completes with the keyboard through a labelled checkbox", async () => {
    const { task, onUpdate, user } = renderItem();
    const checkbox = screen.getByRole("checkbox", { name: 'Mark "Buy milk" as done' });
    checkbox.focus();
    await user.keyboard(" ");
    expect(onUpdate).toHaveBeenCalledWith(task.id, { done: true });
  });

  it("deletes", async () => {
    const { task, onDelete, user } = renderItem();
    await user.click(screen.getByRole("button", { name: 'Delete "Buy milk"' }));
    expect(onDelete).toHaveBeenCalledWith(task.id);
  });

  it("edits in place and saves the changed fields", async () => {
    const { task, onUpdate, user } = renderItem();
    await user.click(screen.getByRole("button", { name: 'Edit "Buy milk"' }));
    const title = screen.getByLabelText("Title");
    expect(title).toHaveFocus();
    await user.clear(title);
    await user.type(title, "Buy oat milk");
    await user.selectOptions(screen.getByLabelText("Priority"), "low");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onUpdate).toHaveBeenCalledWith(task.id, { title: "Buy oat milk", description: "", priority: "low", due_date: "2025-02-03" });
    expect(screen.queryByRole("button", { name: "Save" })).not.toBeInTheDocument();
  });

  it("keeps the editor open with the server's message next to the field", async () => {
    const { onUpdate, user } = renderItem();
    onUpdate.mockRejectedValueOnce(new ApiError(422, "validation_error", "Request validation failed", { title: "String should have at most 200 characters" }));
    await user.click(screen.getByRole("button", { name: 'Edit "Buy milk"' }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByLabelText("Title")).toHaveAccessibleDescription("String should have at most 200 characters");
  });

  it("cancels editing with Escape", async () => {
    const { onUpdate, user } = renderItem();
    await user.click(screen.getByRole("button", { name: 'Edit "Buy milk"' }));
    await user.keyboard("{Escape}");
    expect(screen.getByRole("button", { name: 'Edit "Buy milk"' })).toBeInTheDocument();
    expect(onUpdate).not.toHaveBeenCalled();
  });

  it("disables actions while the task is only optimistic", () => {
    renderItem(makeTask({ id: -5, title: "Saving" }));
    expect(screen.getByRole("checkbox")).toBeDisabled();
    expect(screen.getByRole("button", { name: 'Delete "Saving"' })).toBeDisabled();
  });
});
