/**
 * The browser's API client. It only ever talks to this Next.js server (same
 * origin): the server proxies to the backend and keeps the session token in an
 * httpOnly cookie, so nothing here knows the backend's address or the token.
 */
import type { ChatReply, Task, TaskFilters, TaskInput, TaskPatch, User } from "./types";

export type FieldErrors = Record<string, string>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fieldErrors: FieldErrors = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  get isUnauthorized(): boolean {
    return this.status === 401;
  }

  get isUnavailable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

/** Anything a request can throw, as an ApiError the UI knows how to show. */
export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "unknown", "Something went wrong. Please try again.");
}

const UNAVAILABLE_MESSAGE =
  "The Todo service can't be reached right now. Nothing was lost; please try again in a moment.";

/** The backend's own shape, and FastAPI's default one, for 422 errors. */
interface BackendFieldError {
  field?: string;
  message?: string;
  loc?: (string | number)[];
  msg?: string;
}

function fieldName(error: BackendFieldError): string {
  if (error.field) return error.field;
  // FastAPI's default loc starts with where the value came from ("body").
  const path = (error.loc ?? []).slice(1);
  return path.length > 0 ? path.join(".") : "form";
}

export function parseFieldErrors(errors: unknown): FieldErrors {
  if (!Array.isArray(errors)) return {};
  const result: FieldErrors = {};
  for (const error of errors as BackendFieldError[]) {
    const name = fieldName(error);
    result[name] ??= error.message ?? error.msg ?? "Invalid value";
  }
  return result;
}

function defaultMessage(status: number): string {
  if (status === 0 || status >= 502) return UNAVAILABLE_MESSAGE;
  if (status === 401) return "Your session has ended. Please log in again.";
  if (status === 404) return "That item no longer exists.";
  return "Something went wrong. Please try again.";
}

export async function errorFromResponse(response: Response): Promise<ApiError> {
  const body = await response.json().catch(() => ({}));
  const { detail, code, errors } = body as { detail?: unknown; code?: string; errors?: unknown };
  const fieldErrors = parseFieldErrors(errors ?? detail);
  const message =
    response.status >= 502
      ? UNAVAILABLE_MESSAGE
      : typeof detail === "string"
        ? detail
        : defaultMessage(response.status);
  return new ApiError(response.status, code ?? `http_${response.status}`, message, fieldErrors);
}

async function request<T>(path: string, method = "GET", body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? undefined : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    // fetch only throws when no HTTP answer came back at all.
    throw new ApiError(0, "network", UNAVAILABLE_MESSAGE);
  }
  if (!response.ok) throw await errorFromResponse(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export function taskQuery(filters: TaskFilters): string {
  const params = new URLSearchParams({ sort: filters.sort });
  if (filters.status !== "all") params.set("done", String(filters.status === "done"));
  if (filters.priority) params.set("priority", filters.priority);
  return params.toString();
}

export interface Credentials {
  email: string;
  password: string;
}

export const api = {
  register: (credentials: Credentials) => request<User>("/api/auth/register", "POST", credentials),
  login: (credentials: Credentials) => request<{ ok: true }>("/api/auth/login", "POST", credentials),
  logout: () => request<void>("/api/auth/logout", "POST"),
  me: () => request<User>("/api/auth/me"),
  listTasks: (filters: TaskFilters) => request<Task[]>(`/api/tasks?${taskQuery(filters)}`),
  createTask: (input: TaskInput) => request<Task>("/api/tasks", "POST", input),
  updateTask: (id: number, patch: TaskPatch) => request<Task>(`/api/tasks/${id}`, "PATCH", patch),
  deleteTask: (id: number) => request<void>(`/api/tasks/${id}`, "DELETE"),
  chat: (message: string) => request<ChatReply>("/api/chat", "POST", { message }),
};
