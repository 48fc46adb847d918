// @vitest-environment jsdom
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "@/lib/api";
import { TaskForm } from "./TaskForm";

describe("TaskForm", () => {
  it("submits every field, then clears and refocuses the title for the next task", async () => {
    const onSubmit = vi.fn(async () => undefined);
    const user = userEvent.setup();
    render(<TaskForm submitLabel="Add task" onSubmit={onSubmit} />);
    await user.type(screen.getByLabelText("Title"), "File taxes");
    await user.selectOptions(screen.getByLabelText("Priority"), "high");
    await user.type(screen.getByLabelText("Due date"), "2025-04-15");
    await user.type(screen.getByLabelText("Notes (optional)"), "before April");
    await user.click(screen.getByRole("button", { name: "Add task" }));
    expect(onSubmit).toHaveBeenCalledWith({ title: "File taxes", description: "before April", priority: "high", due_date: "2025-04-15" });
    expect(screen.getByLabelText("Title")).toHaveValue("");
    expect(screen.getByLabelText("Title")).toHaveFocus();
  });

  it("keeps what was typed and shows each server error next to its field", async () => {
    const long = "x".repeat(250);
    const onSubmit = vi.fn(async () => {
      throw new ApiError(422, "validation_error", "Request validation failed", {
        title: "String should have at most 200 characters",
        due_date: "Input should be a valid date",
      });
    });
    const user = userEvent.setup();
    render(<TaskForm submitLabel="Add task" onSubmit={onSubmit} />);
    await user.click(screen.getByLabelText("Title"));
    await user.paste(long);
    await user.click(screen.getByRole("button", { name: "Add task" }));
    expect(screen.getByLabelText("Title")).toHaveValue(long);
    expect(screen.getByLabelText("Title")).toHaveAccessibleDescription("String should have at most 200 characters");
    expect(screen.getByLabelText("Due date")).toHaveAccessibleDescription("Input should be a valid date");
  });

  it("requires a title before anything is sent", async () => {
    const onSubmit = vi.fn(async () => undefined);
    const user = userEvent.setup();
    render(<TaskForm submitLabel="Add task" onSubmit={onSubmit} />);
    await user.click(screen.getByRole("button", { name: "Add task" }));
    expect(onSubmit).not.toHaveBeenCalled();
  });
});
