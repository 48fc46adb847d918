"use client";

import type { Task, TaskPatch } from "@/lib/types";
import { TaskItem } from "./TaskItem";

interface TaskListProps {
  tasks: Task[];
  loading: boolean;
  onUpdate: (id: number, patch: TaskPatch) => Promise<unknown>;
  onDelete: (id: number) => void;
}

export function TaskList({ tasks, loading, onUpdate, onDelete }: TaskListProps) {
  if (tasks.length === 0) {
    return <p className="empty">{loading ? "Loading tasks…" : "No tasks here yet."}</p>;
  }
  return (
    <ul className="task-list" aria-label="Tasks">
      {tasks.map((task) => (
        <TaskItem key={task.id} task={task} onUpdate={onUpdate} onDelete={onDelete} />
      ))}
    </ul>
  );
}
