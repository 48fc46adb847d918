"use client";

import type { Task, TaskPatch } from "@/lib/types";
import { TaskItem } from "./TaskItem";

interface TaskListProps {
  tasks: Task[];
  loading: boolean;
  /** The last load failed, so an empty list means "unknown", not "none". */
  failed: boolean;
  onUpdate: (id: number, patch: TaskPatch) => Promise<unknown>;
  onDelete: (id: number) => void;
}

function emptyMessage(loading: boolean, failed: boolean): string {
  if (loading) return "Loading tasks…";
  return failed ? "Your tasks can't be shown right now." : "No tasks here yet.";
}

export function TaskList({ tasks, loading, failed, onUpdate, onDelete }: TaskListProps) {
  if (tasks.length === 0) return <p className="empty">{emptyMessage(loading, failed)}</p>;
  return (
    <ul className="task-list" aria-label="Tasks">
      {tasks.map((task) => (
        <TaskItem key={task.id} task={task} onUpdate={onUpdate} onDelete={onDelete} />
      ))}
    </ul>
  );
}
