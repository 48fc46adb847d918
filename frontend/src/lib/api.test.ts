import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, asApiError, errorFromResponse, parseFieldErrors, taskQuery } from "./api";

function stubFetch(response: Response | Error) {
  const fetchMock = vi.fn(async (..._args: [string, RequestInit?]) => {
    if (response instanceof Error) throw response;
    return response;
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    return asApiError(error);
  }
  throw new Error("expected the request to fail");
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("taskQuery", () => {
  it.each([
    [{ status: "all", priority: "", sort: "-created_at" }, "sort=-created_at"],
    [{ status: "open", priority: "", sort: "title" }, "sort=title&done=false"],
    [{ status: "done", priority: "high", sort: "due_date" }, "sort=due_date&done=true&priority=high"],
  ] as const)("turns %j into %s", (filters, expected) => {
    expect(taskQuery(filters)).toBe(expected);
  });
});

describe("parseFieldErrors", () => {
  it("reads the backend's own shape", () => {
    const errors = [{ field: "title", location: "body", message: "String should have at most 200 characters" }];
    expect(parseFieldErrors(errors)).toEqual({ title: "String should have at most 200 characters" });
  });

  it("reads FastAPI's default shape, dropping the location prefix", () => {
    const errors = [{ loc: ["body", "password"], msg: "too short", type: "string_too_short" }];
    expect(parseFieldErrors(errors)).toEqual({ password: "too short" });
  });

  it("keeps the first message per field and ignores non-lists", () => {
    expect(parseFieldErrors([{ field: "a", message: "one" }, { field: "a", message: "two" }])).toEqual({ a: "one" });
    expect(parseFieldErrors("Task not found")).toEqual({});
  });
});

describe("errorFromResponse", () => {
  it("uses the backend's detail and code", async () => {
    const error = await errorFromResponse(Response.json({ detail: "Task not found", code: "not_found" }, { status: 404 }));
    expect(error).toMatchObject({ status: 404, code: "not_found", message: "Task not found" });
  });

  it("explains an unreachable backend in plain words", async () => {
    const error = await errorFromResponse(Response.json({ detail: "x", code: "backend_unavailable" }, { status: 502 }));
    expect(error.isUnavailable).toBe(true);
    expect(error.message).toMatch(/can't be reached/);
  });

  it("copes with a body that is not JSON", async () => {
    const error = await errorFromResponse(new Response("<html>oops</html>", { status: 500 }));
    expect(error).toMatchObject({ status: 500, code: "http_500", message: "Something went wrong. Please try again." });
  });
});

describe("api", () => {
  it("sends JSON to the same origin and returns the parsed body", async () => {
    const fetchMock = stubFetch(Response.json({ id: 1, title: "Buy milk" }, { status: 201 }));
    const task = await api.createTask({ title: "Buy milk", description: "", priority: "high", due_date: null });
    expect(task).toEqual({ id: 1, title: "Buy milk" });
    const [url, init = {}] = fetchMock.mock.calls[0]!;
    expect(url).toBe("/api/tasks");
    expect(init.method).toBe("POST");
    expect(init.headers).toEqual({ "Content-Type": "application/json" });
    expect(JSON.parse(String(init.body))).toEqual({ title: "Buy milk", description: "", priority: "high", due_date: null });
  });

  it("lists tasks with the filter query", async () => {
    const fetchMock = stubFetch(Response.json([]));
    await api.listTasks({ status: "open", priority: "low", sort: "due_date" });
    expect(fetchMock.mock.calls[0]?.[0]).toBe("/api/tasks?sort=due_date&done=false&priority=low");
  });

  it("returns nothing for 204", async () => {
    stubFetch(new Response(null, { status: 204 }));
    await expect(api.deleteTask(3)).resolves.toBeUndefined();
  });

  it("throws field errors from a 422", async () => {
    stubFetch(
      Response.json(
        { detail: "Request validation failed", code: "validation_error", errors: [{ field: "password", message: "too short" }] },
        { status: 422 },
      ),
    );
    const error = await failure(api.register({ email: "a@example.com", password: "x" }));
    expect(error.fieldErrors).toEqual({ password: "too short" });
  });

  it("marks a 401 so the app can go back to login", async () => {
    stubFetch(Response.json({ detail: "Not authenticated", code: "not_authenticated" }, { status: 401 }));
    const error = await failure(api.me());
    expect(error.isUnauthorized).toBe(true);
  });

  it("turns a network failure into an unavailable error", async () => {
    stubFetch(new TypeError("Failed to fetch"));
    const error = await failure(api.listTasks({ status: "all", priority: "", sort: "-created_at" }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 0, code: "network", isUnavailable: true });
  });
});
