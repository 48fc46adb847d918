/**
 * An in-memory stand-in for this server's /api, installed as the browser's
 * fetch in component tests. It follows the backend's contract closely enough
 * for the UI (filters, sort by creation, validation, 401, outage).
 */
import { vi } from "vitest";
import type { Task } from "@/lib/types";

export interface FakeApi {
  tasks: Task[];
  calls: string[];
  /** Status to answer every request with, e.g. 502 for an outage or 401 for an ended session. */
  failWith: number | null;
  /** The next matching request gets this answer instead of the normal one. */
  failOnce: (method: string, path: string, status: number, body: unknown) => void;
}

let nextId = 1;

export function makeTask(overrides: Partial<Task> = {}): Task {
  const id = overrides.id ?? nextId++;
  return {
    id,
    title: `Task ${id}`,
    description: "",
    done: false,
    priority: "medium",
    due_date: null,
    created_at: "2025-01-01T00:00:00Z",
    updated_at: "2025-01-01T00:00:00Z",
    ...overrides,
  };
}

function listTasks(tasks: Task[], query: URLSearchParams): Task[] {
  const done = query.get("done");
  const priority = query.get("priority");
  return tasks
    .filter((task) => done === null || String(task.done) === done)
    .filter((task) => !priority || task.priority === priority)
    .sort((a, b) => b.id - a.id);
}

export function installFakeApi(initial: Task[] = []): FakeApi {
  const fake: FakeApi = { tasks: [...initial], calls: [], failWith: null, failOnce };
  const once: { method: string; path: string; status: number; body: unknown }[] = [];
  function failOnce(method: string, path: string, status: number, body: unknown) {
    once.push({ method, path, status, body });
  }

  async function handle(method: string, url: URL, body: Record<string, unknown>): Promise<Response> {
    const path = url.pathname;
    const task = fake.tasks.find((candidate) => path === `/api/tasks/${candidate.id}`);
    if (method === "GET" && path === "/api/auth/me") return Response.json({ id: 1, email: "ada@example.com", created_at: "" });
    if (method === "GET" && path === "/api/tasks") return Response.json(listTasks(fake.tasks, url.searchParams));
    if (method === "POST" && path === "/api/tasks") {
      const created = makeTask({ ...(body as Partial<Task>), done: false });
      fake.tasks.push(created);
      return Response.json(created, { status: 201 });
    }
    if (method === "PATCH" && task) {
      Object.assign(task, body);
      return Response.json(task);
    }
    if (method === "DELETE" && task) {
      fake.tasks = fake.tasks.filter((candidate) => candidate !== task);
      return new Response(null, { status: 204 });
    }
    if (method === "POST" && path === "/api/chat") {
      const created = makeTask({ title: "Buy milk", due_date: "2025-02-01" });
      fake.tasks.push(created);
      return Response.json({ reply: `Added task ${created.id}: Buy milk.`, actions: [{ type: "create", task_id: created.id }], tasks: [created], source: "parser" });
    }
    return Response.json({ detail: "Not found", code: "not_found" }, { status: 404 });
  }

  vi.stubGlobal("fetch", async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    const url = new URL(input, "http://localhost:3000");
    fake.calls.push(`${method} ${url.pathname}${url.search}`);
    if (fake.failWith) return Response.json({ detail: "failure", code: `http_${fake.failWith}` }, { status: fake.failWith });
    const planned = once.findIndex((entry) => entry.method === method && entry.path === url.pathname);
    if (planned >= 0) {
      const [entry] = once.splice(planned, 1);
      return entry!.status === 204 ? new Response(null, { status: 204 }) : Response.json(entry!.body, { status: entry!.status });
    }
    return handle(method, url, init.body ? JSON.parse(String(init.body)) : {});
  });
  return fake;
}

export function validationError(field: string, message: string) {
  return { detail: "Request validation failed", code: "validation_error", errors: [{ field, location: "body", message }] };
}
