/** Shapes of the backend API (see backend/README.md). */

export type Priority = "low" | "medium" | "high";

export const PRIORITIES: readonly Priority[] = ["low", "medium", "high"];

export interface User {
  id: number;
  email: string;
  created_at: string;
}

export interface Task {
  id: number;
  title: string;
  description: string;
  done: boolean;
  priority: Priority;
  /** YYYY-MM-DD, or null when the task has no due date. */
  due_date: string | null;
  created_at: string;
  updated_at: string;
}

export type TaskInput = Pick<Task, "title" | "description" | "priority" | "due_date">;

export type TaskPatch = Partial<TaskInput & Pick<Task, "done">>;

export type StatusFilter = "all" | "open" | "done";

export type SortKey = "-created_at" | "created_at" | "due_date" | "-priority" | "title";

export interface TaskFilters {
  status: StatusFilter;
  priority: Priority | "";
  sort: SortKey;
}

export interface ChatReply {
  reply: string;
  actions: { type: string; task_id: number | null }[];
  tasks: Task[];
  source: string;
}
