"use client";

import { useRef, useState } from "react";
import { formatDueDate, isOverdue } from "@/lib/dates";
import type { Task, TaskInput, TaskPatch } from "@/lib/types";
import { TaskForm } from "./TaskForm";

interface TaskItemProps {
  task: Task;
  onUpdate: (id: number, patch: TaskPatch) => Promise<unknown>;
  onDelete: (id: number) => void;
}

function toInput({ title, description, priority, due_date }: Task): TaskInput {
  return { title, description, priority, due_date };
}

export function TaskItem({ task, onUpdate, onDelete }: TaskItemProps) {
  const [editing, setEditing] = useState(false);
  const editButton = useRef<HTMLButtonElement>(null);
  // Optimistic rows have a temporary negative id until the server answers.
  const pending = task.id < 0;
  const overdue = isOverdue(task.due_date, task.done);

  function stopEditing() {
    setEditing(false);
    // Give focus back to where the person was, not to the top of the page.
    requestAnimationFrame(() => editButton.current?.focus());
  }

  if (editing) {
    return (
      <li className="task task-editing">
        <TaskForm
          initial={toInput(task)}
          submitLabel="Save"
          onSubmit={async (input) => {
            await onUpdate(task.id, input);
            stopEditing();
          }}
          onCancel={stopEditing}
        />
      </li>
    );
  }

  return (
    <li className={`task${task.done ? " task-done" : ""}${pending ? " task-pending" : ""}`} aria-busy={pending}>
      <input
        type="checkbox"
        className="task-check"
        id={`task-${task.id}-done`}
        checked={task.done}
        disabled={pending}
        // The list already rolled back and reported a failure; nothing more to do here.
        onChange={() => onUpdate(task.id, { done: !task.done }).catch(() => undefined)}
        aria-label={`Mark "${task.title}" as ${task.done ? "not done" : "done"}`}
      />
      <div className="task-body">
        <p className="task-title">{task.title}</p>
        {task.description && <p className="task-description">{task.description}</p>}
        <p className="task-meta">
          <span className={`badge badge-${task.priority}`}>{task.priority} priority</span>
          {task.due_date && (
            <span className={overdue ? "due due-overdue" : "due"}>
              {overdue ? "Overdue: " : "Due "}
              <time dateTime={task.due_date}>{formatDueDate(task.due_date)}</time>
            </span>
          )}
        </p>
      </div>
      <div className="task-actions">
        <button type="button" ref={editButton} disabled={pending} onClick={() => setEditing(true)} aria-label={`Edit "${task.title}"`}>
          Edit
        </button>
        <button type="button" className="button-danger" disabled={pending} onClick={() => onDelete(task.id)} aria-label={`Delete "${task.title}"`}>
          Delete
        </button>
      </div>
    </li>
  );
}
